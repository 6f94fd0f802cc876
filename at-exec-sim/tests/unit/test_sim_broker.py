"""The simulated venue behind the BrokerAdapter port answers truthfully: a cancel in flight is
PENDING_CANCEL (the order may still fill) and OrderCanceled comes when it lands; an order in
flight is PENDING, not accepted. The adapter shares the engine's venue, as a service would."""

from __future__ import annotations

from tests.helpers import T0, D, engine, factory, proposal, quote

from at_core.catalog import InstrumentCatalog
from at_core.clock import ManualClock
from at_core.events import Event
from at_core.models.enums import OrderSide, OrderType
from at_core.models.orders import OrderSpec
from at_exec_sim.adapters.sim_broker import SimBrokerAdapter
from at_exec_sim.domain.ports import ReportStatus
from at_exec_sim.domain.venue_models import LatencyModel

MES = InstrumentCatalog().get("MES.CME")
BUY = OrderSide.BUY


def kinds(events: list[Event]) -> list[str]:
    return [e.event_type for e in events]


def resting_limit(cancel_ns: int = 0):
    """paper-1 rests a buy limit for 1 MES at 4995.00; the adapter shares the engine's venue."""
    clock = ManualClock(T0)
    eng, f = engine(clock=clock, latency=LatencyModel(cancel_ns=cancel_ns)), factory()
    eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.25"))
    out = eng.on_proposal(proposal(f, "paper-1", "MES.CME", BUY, "1", order_type=OrderType.LIMIT, limit="4995.00"))
    return clock, eng, f, SimBrokerAdapter(eng.venue, eng.markets, clock), out[1].client_order_id


async def test_a_cancel_with_latency_is_pending_and_the_order_is_canceled_on_the_first_market_event_after_it_lands() -> (
    None
):
    clock, eng, f, broker, coid = resting_limit(cancel_ns=100)
    report = await broker.cancel(coid, MES)
    assert report.status is ReportStatus.PENDING_CANCEL and report.message == f"cancel lands at {T0 + 100} ns"
    assert eng.on_report(coid, report, "cancel") == []  # nothing happened yet
    assert eng.orders[coid].status == "accepted"
    clock.set(T0 + 99)
    assert kinds(eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.25"))) == []
    clock.set(T0 + 100)
    out = eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.25"))
    assert kinds(out) == ["order_canceled"] and out[0].ts_event == T0 + 100
    assert eng.orders[coid].status == "canceled" and eng.venue.resting == {}


async def test_the_status_of_an_order_whose_cancel_landed_is_canceled_not_accepted() -> None:
    clock = ManualClock(T0)
    eng = engine(clock=clock, latency=LatencyModel(cancel_ns=100))
    eng.on_market_data(quote(factory(), "MES.CME", "5000.00", "5000.25"))
    broker = SimBrokerAdapter(eng.venue, eng.markets, clock)
    limit = OrderSpec(side=BUY, quantity=D(1), order_type=OrderType.LIMIT, limit_price=D("4995.00"))
    assert (await broker.submit("O-1", MES, limit)).status is ReportStatus.ACCEPTED
    assert (await broker.cancel("O-1", MES)).status is ReportStatus.PENDING_CANCEL
    assert (await broker.order_status("O-1", MES)).status is ReportStatus.ACCEPTED  # the cancel is on its way
    clock.set(T0 + 100)
    eng.venue.on_market("MES.CME", eng.markets["MES.CME"], T0 + 100)  # it lands
    report = await broker.order_status("O-1", MES)
    assert (report.status, report.executions) == (ReportStatus.CANCELED, ())


async def test_a_cancel_that_landed_before_a_crossing_market_event_leaves_nothing_to_fill() -> None:
    clock, eng, f, broker, coid = resting_limit(cancel_ns=100)
    await broker.cancel(coid, MES)
    clock.set(T0 + 150)  # the cancel landed at T0 + 100; this quote crosses the limit at T0 + 150
    out = eng.on_market_data(quote(f, "MES.CME", "4994.75", "4995.00"))
    assert kinds(out) == ["order_canceled"]


async def test_an_order_can_still_fill_while_its_cancel_is_in_flight() -> None:
    clock, eng, f, broker, coid = resting_limit(cancel_ns=100)
    assert (await broker.cancel(coid, MES)).status is ReportStatus.PENDING_CANCEL
    clock.set(T0 + 50)
    filled = eng.on_market_data(quote(f, "MES.CME", "4994.75", "4995.00"))
    assert kinds(filled)[:3] == ["fill", "position", "order_filled"]
    clock.set(T0 + 100)
    assert "order_canceled" not in kinds(eng.on_market_data(quote(f, "MES.CME", "4994.75", "4995.00")))
    assert eng.accounts["paper-1"].account.positions["MES.CME"].quantity == 1


async def test_a_cancel_without_latency_is_canceled_at_once() -> None:
    _, eng, _, broker, coid = resting_limit()
    report = await broker.cancel(coid, MES)
    assert report.status is ReportStatus.CANCELED and eng.venue.resting == {}
    out = eng.on_report(coid, report, "cancel")
    assert kinds(out) == ["order_canceled"] and eng.orders[coid].status == "canceled"


async def test_a_cancel_for_an_order_the_venue_does_not_hold_is_rejected() -> None:
    _, _, _, broker, _ = resting_limit()
    report = await broker.cancel("O-unknown", MES)
    assert (report.status, report.reason) == (ReportStatus.REJECTED, "unknown_order")


async def test_an_order_in_flight_is_pending_not_accepted() -> None:
    clock = ManualClock(T0)
    eng = engine(clock=clock, latency=LatencyModel(submit_ns=50))
    eng.on_market_data(quote(factory(), "MES.CME", "5000.00", "5000.25"))
    broker = SimBrokerAdapter(eng.venue, eng.markets, clock)
    report = await broker.submit("O-1", MES, OrderSpec(side=BUY, quantity=D(1)))
    assert report.status is ReportStatus.PENDING and report.executions == ()
    assert eng.venue.inflight["O-1"].arrives_at == T0 + 50  # from the adapter's clock, not from 0
    assert (await broker.order_status("O-1", MES)).status is ReportStatus.PENDING  # asked again: still on its way
