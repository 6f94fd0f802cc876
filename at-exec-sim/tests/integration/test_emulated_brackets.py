"""Emulated brackets at brokers without native ones: exec-sim over a real nats-server, the real
adapter against OANDA v20 on loopback, and the paper broker (Binance spot brackets, an exchange
OCO list: ``test_ccxt_spot_brackets.py``). After the entry fills,
exec-sim places the reduce-only stop and target at the broker itself, runs their one-cancels-other,
resizes them there when the position changes, and keeps managing them across a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from tests.helpers import T0, factory, proposal, quote
from tests.integration.test_broker_routing import Service, Stack, Watch, has
from tests.integration.test_broker_routing import stack as stack  # the fixture

from at_core.clock import ManualClock
from at_core.events import Event
from at_core.metrics import MetricCatalog
from at_core.models.brackets import BracketLevel, BracketSpec, BracketUnit
from at_core.models.enums import OrderSide
from at_core.runtime.bus import EventBus
from at_core.testing import NatsServer
from at_exec_sim.config import ExecSimSettings

pytestmark = pytest.mark.integration
D = Decimal
BRACKET = BracketSpec(
    stop_loss=BracketLevel(value=D(100), unit=BracketUnit.TICKS),  # 0.00100 below the entry
    take_profit=BracketLevel(value=D(200), unit=BracketUnit.TICKS),  # 0.00200 above
)


def bracketed(p: Event) -> Event:
    return p.model_copy(update={"order": p.order.model_copy(update={"bracket": BRACKET})})  # type: ignore[attr-defined]


def children_accepted(n: int = 2) -> Callable[[list[Event]], bool]:
    return lambda got: sum(1 for e in got if e.event_type == "order_accepted" and e.bracket_role) >= n


async def until(check: Callable[[], bool]) -> None:
    """A fake broker's state reaches ``check`` (it changes on exec-sim's requests), with a deadline."""
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the broker never got there")


def child_canceled(got: list[Event]) -> bool:
    return any(e.event_type == "order_canceled" and e.bracket_role for e in got)


async def test_at_oanda_the_entry_fill_places_a_reduce_only_stop_and_target_and_the_stops_fill_cancels_the_target(
    stack: Stack,
) -> None:
    async with Service(stack.settings, ManualClock(T0)) as svc:
        watch = await stack.send(bracketed(proposal(stack.f, "oanda-1", "EUR/USD.OANDA", OrderSide.BUY, "1000")))
        await watch.until(children_accepted())
        coid = watch.first("risk_decision").client_order_id
        entry, sl, tp = (stack.oanda.orders[c] for c in (coid, f"{coid}:sl", f"{coid}:tp"))
        assert (entry["state"], entry["units"]) == ("FILLED", "1000")  # at the ask, 1.08022
        assert (sl["type"], sl["units"], sl["price"], sl["positionFill"], sl["state"]) == (
            "STOP", "-1000", "1.07922", "REDUCE_ONLY", "PENDING",
        )  # fmt: skip
        assert (tp["type"], tp["units"], tp["price"], tp["positionFill"], tp["state"]) == (
            "LIMIT", "-1000", "1.08222", "REDUCE_ONLY", "PENDING",
        )  # fmt: skip
        assert "REDUCE_ONLY" not in entry["positionFill"]  # the entry itself opens the position

        stack.oanda.set_quote("EUR_USD", "1.07900", "1.07912")  # through the stop
        assert stack.oanda.orders[f"{coid}:sl"]["state"] == "FILLED"
        await svc.exec_sim.reconcile()  # the poller's round: the stop's fill, then the OCO
        await watch.until(child_canceled)
        canceled = next(e for e in watch.events if e.event_type == "order_canceled")
        assert (canceled.client_order_id, canceled.reason) == (f"{coid}:tp", "oco")
        assert stack.oanda.orders[f"{coid}:tp"]["state"] == "CANCELLED"  # no orphan left at OANDA
        assert stack.oanda.net("EUR_USD") == 0
        fills = [e for e in watch.events if e.event_type == "fill"]
        assert [(f.client_order_id, f.price) for f in fills] == [(coid, D("1.08022")), (f"{coid}:sl", D("1.07900"))]
        await watch.close()


async def test_at_oanda_a_position_cut_in_part_resizes_both_children_by_replacing_them_under_their_client_ids(
    stack: Stack,
) -> None:
    async with Service(stack.settings, ManualClock(T0)) as svc:
        watch = await stack.send(bracketed(proposal(stack.f, "oanda-1", "EUR/USD.OANDA", OrderSide.BUY, "1000")))
        await watch.until(children_accepted())
        coid = watch.first("risk_decision").client_order_id
        cut = await stack.send(proposal(stack.f, "oanda-1", "EUR/USD.OANDA", OrderSide.SELL, "400"))
        await cut.until(has("order_filled"))
        await watch.until(lambda got: sum(1 for e in got if e.event_type == "order_updated") == 2)
        updated = [e for e in watch.events if e.event_type == "order_updated"]
        assert {(e.client_order_id, e.quantity, e.reason) for e in updated} == {
            (f"{coid}:sl", D(600), "position"),
            (f"{coid}:tp", D(600), "position"),
        }
        await until(lambda: len(stack.oanda.replaced) == 2)  # the modifies follow the published updates
        assert sorted(stack.oanda.replaced) == [f"{coid}:sl", f"{coid}:tp"]  # v20 replace: never without a stop
        sl, tp = stack.oanda.orders[f"{coid}:sl"], stack.oanda.orders[f"{coid}:tp"]
        assert (sl["units"], sl["price"], sl["state"]) == ("-600", "1.07922", "PENDING")
        assert (tp["units"], tp["price"], tp["state"]) == ("-600", "1.08222", "PENDING")
        stack.oanda.set_quote("EUR_USD", "1.08230", "1.08242")  # the target fills
        await svc.exec_sim.reconcile()
        await watch.until(child_canceled)
        assert stack.oanda.orders[f"{coid}:sl"]["state"] == "CANCELLED"
        assert stack.oanda.net("EUR_USD") == 0
        for w in (watch, cut):
            await w.close()


async def test_at_oanda_a_restart_between_the_childrens_placement_and_the_stops_fill_doubles_nothing(
    stack: Stack,
) -> None:
    async with Service(stack.settings, ManualClock(T0)):
        watch = await stack.send(bracketed(proposal(stack.f, "oanda-1", "EUR/USD.OANDA", OrderSide.BUY, "1000")))
        await watch.until(children_accepted())
        coid = watch.first("risk_decision").client_order_id
    placed = dict(stack.oanda.orders)
    stack.oanda.set_quote("EUR_USD", "1.07900", "1.07912")  # the stop fills while exec-sim is down
    async with Service(stack.settings, ManualClock(T0 + 10 * 10**9)) as again:
        assert set(stack.oanda.orders) == set(placed)  # nothing placed again: one entry, one stop, one target
        orders = await again.orders("oanda-1")
        assert orders[f"{coid}:sl"]["status"] == "accepted"  # as exec-sim last knew it: the poller finds out
        await again.exec_sim.reconcile()
        await watch.until(child_canceled)
        orders = await again.orders("oanda-1")
        assert (orders[f"{coid}:sl"]["status"], orders[f"{coid}:tp"]["status"]) == ("filled", "canceled")
        assert stack.oanda.orders[f"{coid}:tp"]["state"] == "CANCELLED"
    async with Service(stack.settings, ManualClock(T0 + 20 * 10**9)):  # a third start finds nothing to do
        pass
    assert set(stack.oanda.orders) == set(placed)
    assert sum(1 for e in watch.events if e.event_type == "fill") == 2  # the entry and the stop, once each
    assert sum(1 for e in watch.events if e.event_type == "order_canceled") == 1
    await watch.close()


async def test_at_the_paper_broker_the_children_rest_and_a_gap_through_the_stop_cancels_the_target(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    path = tmp_path / "paper.yaml"
    path.write_text("accounts:\n  - {account_id: demo-1, profile: retail, venue: PAPER}\n")
    bus = await EventBus.connect(nats_server.url, service="test", metrics=MetricCatalog("test").build())
    await bus.ensure_streams()
    f = factory()
    await bus.publish(quote(f, "EUR/USD.FX", "1.08010", "1.08022"))
    settings = ExecSimSettings(nats_url=nats_server.url, accounts_file=str(path), paper_enabled=True)
    async with Service(settings, ManualClock(T0)) as svc:
        p = bracketed(proposal(f, "demo-1", "EUR/USD.FX", OrderSide.BUY, "1000"))
        watch = await Watch(p.correlation_id).start(nats_server.url)
        await bus.publish(p)
        await watch.until(children_accepted())
        coid = watch.first("risk_decision").client_order_id
        paper = svc.exec_sim.venues.links["PAPER"].adapter
        resting = paper._resting  # type: ignore[attr-defined]
        assert set(resting) == {f"{coid}:sl", f"{coid}:tp"}
        entry = watch.first("fill").price
        sl, tp = resting[f"{coid}:sl"].spec, resting[f"{coid}:tp"].spec
        assert (sl.stop_price, sl.quantity, sl.reduce_only) == (entry - D("0.00100"), D(1000), True)
        assert (tp.limit_price, tp.quantity, tp.reduce_only) == (entry + D("0.00200"), D(1000), True)

        await bus.publish(quote(f, "EUR/USD.FX", "1.07700", "1.07712"))  # a gap far through the stop
        await watch.until(child_canceled)
        stop_fill = [e for e in watch.events if e.event_type == "fill"][-1]
        assert (stop_fill.client_order_id, stop_fill.price) == (f"{coid}:sl", D("1.07706"))  # the price that passed
        await until(lambda: not resting)  # the target canceled at the paper broker too (after the event)
        assert await paper.positions() == []
        await watch.close()
    await bus.close()


async def test_at_oanda_a_restart_after_the_entry_filled_unseen_places_the_children_once(stack: Stack) -> None:
    """exec-sim stops between the entry's fill at OANDA and its answer (lost on the way): no child
    rests yet. The restarted service finds the fill by the entry's client id, then places the stop
    and target; a second restart places nothing again."""
    stack.oanda_wire.lose = 1
    async with Service(stack.settings, ManualClock(T0)) as svc:
        watch = await stack.send(bracketed(proposal(stack.f, "oanda-1", "EUR/USD.OANDA", OrderSide.BUY, "1000")))
        await watch.until(has("order_submitted"))
        coid = watch.first("risk_decision").client_order_id
        await until(lambda: coid in stack.oanda.orders)
        assert (await svc.orders("oanda-1"))[coid]["status"] == "unknown"
    assert set(stack.oanda.orders) == {coid}  # filled at the broker, no stop resting: the window the runbook names
    async with Service(stack.settings, ManualClock(T0 + 10 * 10**9)) as again:
        await again.exec_sim.reconcile()
        await watch.until(children_accepted())
        assert set(stack.oanda.orders) == {coid, f"{coid}:sl", f"{coid}:tp"}
        orders = await again.orders("oanda-1")
        assert [orders[c]["status"] for c in (coid, f"{coid}:sl", f"{coid}:tp")] == ["filled", "accepted", "accepted"]
    async with Service(stack.settings, ManualClock(T0 + 20 * 10**9)) as third:
        await third.exec_sim.reconcile()
        assert len(stack.oanda.orders) == 3
    assert sum(1 for e in watch.events if e.event_type == "fill") == 1
    assert sum(1 for e in watch.events if e.event_type == "order_submitted") == 3
    await watch.close()
