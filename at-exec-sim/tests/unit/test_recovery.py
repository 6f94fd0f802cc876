"""A restart rebuilds the simulated venue's book from AT_EXECUTION: an accepted limit or stop order
that had not ended rests again with its leaves quantity, fills (once) or expires as if the
service had never stopped; an order in flight at the crash reaches the venue after it."""

from __future__ import annotations

import pytest
from tests.helpers import T0, D, engine, factory, proposal, quote

from at_core.clock import ManualClock
from at_core.events import Event, Heartbeat, MarketDataEvent
from at_core.models.enums import OrderSide, OrderType, TimeInForce
from at_core.serialization import stream_sha256
from at_exec_sim.domain.engine import ExecutionEngine
from at_exec_sim.domain.venue_models import LatencyModel

HOUR = 3600 * 10**9
DAY_END = T0 + 22 * HOUR  # T0 is 19:00 Chicago; paper-1's trading day ends at 17:00 Chicago
BUY = OrderSide.BUY


def kinds(events: list[Event]) -> list[str]:
    return [e.event_type for e in events]


def restart(published: list[Event], clock: ManualClock, last: MarketDataEvent, **kw) -> ExecutionEngine:
    """A new engine rebuilt from the stream (in order) and the last price, as the service starts."""
    eng = engine(clock=clock, **kw)
    for event in published:
        eng.recover(event)
    eng.prime_market(last)
    return eng


@pytest.mark.parametrize(
    ("order_type", "price_key", "crossing"),
    [
        (OrderType.LIMIT, "limit", ("4994.75", "4995.00")),  # buy limit 4995.00: the ask comes down to it
        (OrderType.STOP_MARKET, "stop", ("5009.75", "5010.00")),  # buy stop 5010.00: the ask comes up to it
    ],
)
def test_a_resting_order_is_back_at_the_venue_after_a_restart_and_fills_once_when_the_price_crosses(
    order_type: OrderType, price_key: str, crossing: tuple[str, str]
) -> None:
    f = factory()
    first = quote(f, "MES.CME", "5000.00", "5000.25")
    price = {"limit": "4995.00", "stop": "5010.00"}[price_key]
    order = proposal(f, "paper-1", "MES.CME", BUY, "2", order_type=order_type, **{price_key: price})
    live = engine(clock=ManualClock(T0))
    live.on_market_data(first)
    published = live.on_proposal(order)
    assert kinds(published) == ["risk_decision", "order_submitted", "order_accepted"]
    coid = published[1].client_order_id

    restarted = restart(published, ManualClock(T0), first)
    assert restarted.resume_unfinished() == []  # nothing sent again
    assert restarted.venue.resting[coid].leaves == 2
    cross = quote(f, "MES.CME", *crossing)
    out = restarted.on_market_data(cross)
    # the fill's account state, then the mark of the position it opened
    assert kinds(out) == ["fill", "position", "order_filled", "account_state", "account_state"]
    assert (out[0].quantity, out[0].price) == (D(2), D(crossing[1]))
    # the same events, ids and bytes as the service that never stopped
    assert stream_sha256(out) == stream_sha256(live.on_market_data(cross))
    again = restarted.on_market_data(quote(f, "MES.CME", *crossing))
    assert "fill" not in kinds(again)
    assert restarted.accounts["paper-1"].account.positions["MES.CME"].quantity == 2
    assert restarted.orders[coid].status == "filled" and restarted.venue.resting == {}


def test_a_partially_filled_limit_rests_again_with_its_leaves_and_its_average_price() -> None:
    f = factory()
    first = quote(f, "MES.CME", "5000.00", "5000.25", size="2")
    live = engine(clock=ManualClock(T0))
    live.on_market_data(first)
    # 6 at up to 5000.50: 2 at 5000.25 and 2 at 5000.50 now, 2 rest
    published = live.on_proposal(
        proposal(f, "paper-1", "MES.CME", BUY, "6", order_type=OrderType.LIMIT, limit="5000.50")
    )
    coid = published[1].client_order_id
    restarted = restart(published, ManualClock(T0), first)
    assert restarted.resume_unfinished() == []
    assert restarted.venue.resting[coid].leaves == 2
    record = restarted.orders[coid]
    assert (record.filled, record.avg_price, record.status) == (D(4), D("5000.375"), "partially_filled")
    out: list[Event] = []
    for _ in range(3):  # 1 a quote at 5000.50; the third quote finds nothing left
        out += restarted.on_market_data(quote(f, "MES.CME", "5000.25", "5000.50", size="1"))
    fills = [e for e in out if e.event_type == "fill"]
    assert [(x.quantity, x.price, x.leaves_quantity) for x in fills] == [
        (D(1), D("5000.50"), D(1)),
        (D(1), D("5000.50"), D(0)),
    ]
    # (2 x 5000.25 + 4 x 5000.50) / 6 = 5000.41666...
    filled = [e for e in out if e.event_type == "order_filled"]
    assert len(filled) == 1 and filled[0].avg_price == (2 * D("5000.25") + 4 * D("5000.50")) / 6
    assert restarted.accounts["paper-1"].account.positions["MES.CME"].quantity == 6


def test_a_day_order_rebuilt_after_a_restart_still_expires_at_the_end_of_its_day() -> None:
    f = factory()
    first = quote(f, "MES.CME", "5000.00", "5000.25")
    live = engine(clock=ManualClock(T0))
    live.on_market_data(first)
    published = live.on_proposal(
        proposal(f, "paper-1", "MES.CME", BUY, "1", order_type=OrderType.LIMIT, limit="4990", tif=TimeInForce.DAY)
    )
    clock = ManualClock(T0 + HOUR)
    restarted = restart(published, clock, first)
    clock.set(DAY_END - 1)
    assert "order_expired" not in kinds(restarted.on_timer(f.make(Heartbeat, service="exec_sim", instance="0")))
    clock.set(DAY_END)
    out = restarted.on_timer(f.make(Heartbeat, service="exec_sim", instance="0"))
    expired = [e for e in out if e.event_type == "order_expired"]
    assert [e.client_order_id for e in expired] == [published[1].client_order_id]


def test_orders_that_ended_before_the_crash_do_not_rest_again() -> None:
    f = factory()
    first = quote(f, "MES.CME", "5000.00", "5000.25")
    clock = ManualClock(T0)
    live = engine(clock=clock)
    live.on_market_data(first)
    published: list[Event] = []
    for limit, tif in (("4990", TimeInForce.DAY), ("4995", TimeInForce.GTC), ("4980", TimeInForce.IOC)):
        published += live.on_proposal(
            proposal(f, "paper-1", "MES.CME", BUY, "1", order_type=OrderType.LIMIT, limit=limit, tif=tif)
        )
    published += live.on_market_data(quote(f, "MES.CME", "4994.75", "4995.00"))  # fills the 4995 GTC
    clock.set(DAY_END)
    published += live.on_timer(f.make(Heartbeat, service="exec_sim", instance="0"))  # expires the DAY order
    assert sorted(kinds(published)).count("order_canceled") == 1  # the IOC's remainder
    restarted = restart(published, ManualClock(DAY_END), first)
    assert restarted.resume_unfinished() == [] and restarted.venue.resting == {}
    assert {r.status for r in restarted.orders.values()} == {"expired", "filled", "canceled"}


def test_a_limit_in_flight_at_the_crash_reaches_the_venue_after_the_restart_with_the_same_ids() -> None:
    f = factory()
    first = quote(f, "MES.CME", "5000.00", "5000.25")
    order = proposal(f, "paper-1", "MES.CME", BUY, "1", order_type=OrderType.LIMIT, limit="5000.25")
    live_clock = ManualClock(T0)
    live = engine(clock=live_clock, latency=LatencyModel(submit_ns=50))
    live.on_market_data(first)
    published = live.on_proposal(order)
    assert kinds(published) == ["risk_decision", "order_submitted"]  # in flight: the crash came now
    clock = ManualClock(T0 + 10)
    restarted = restart(published, clock, first, latency=LatencyModel(submit_ns=50))
    assert restarted.resume_unfinished() == []  # sent again: in flight until T0 + 60
    clock.set(T0 + 60)
    live_clock.set(T0 + 60)
    arrival = quote(f, "MES.CME", "5000.00", "5000.25")
    out = restarted.on_market_data(arrival)
    assert kinds(out)[:4] == ["order_accepted", "fill", "position", "order_filled"]
    assert [e.event_id for e in out] == [e.event_id for e in live.on_market_data(arrival)]


def test_the_simulated_venue_resumes_a_market_order_in_flight_at_a_crash_however_long_ago_byte_identically() -> None:
    f = factory()
    first = quote(f, "MES.CME", "5000.00", "5000.25")
    live = engine(clock=ManualClock(T0), latency=LatencyModel(submit_ns=50))
    live.on_market_data(first)
    published = live.on_proposal(proposal(f, "paper-1", "MES.CME", BUY, "1"))
    assert kinds(published) == ["risk_decision", "order_submitted"]  # in flight: the crash came now

    def resumed(max_age_ns: int | None) -> str:
        clock = ManualClock(T0 + 2 * HOUR)  # back two hours later
        restarted = restart(published, clock, first, latency=LatencyModel(submit_ns=50))
        assert restarted.stale_in_flight(60 * 10**9) == []  # the resend limit is for external brokers only
        out = restarted.resume_unfinished(max_age_ns)
        clock.advance(50)
        out += restarted.on_market_data(quote(factory(T0 + 2 * HOUR + 50), "MES.CME", "5001.00", "5001.25"))
        assert "order_filled" in kinds(out)
        return stream_sha256(out)

    assert resumed(60 * 10**9) == resumed(None)
