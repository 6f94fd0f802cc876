"""Orders resting at brokers are reconciled: exec-sim over a real nats-server under uvicorn asks OANDA
(httpx, v20) and Binance (ccxt) on loopback for each open or unknown order, and books what is new once;
after a restart, a market order a crash interrupted long ago is left to this poll rather than sent again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path

import pytest
from tests.helpers import T0, proposal
from tests.integration.test_broker_routing import DEADLINE_S, Service, Stack, Watch, broker_stack, has

from at_core import subjects
from at_core.clock import ManualClock
from at_core.events import Event
from at_core.models.enums import OrderSide, OrderType
from at_core.serialization import decode_event
from at_core.testing import NatsServer

pytestmark = pytest.mark.integration
D = Decimal
HOUR = 3600 * 10**9


@pytest.fixture
async def stack(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Stack]:
    async with broker_stack(nats_server, tmp_path) as built:
        yield built


def count(watch: Watch, event_type: str) -> int:
    return sum(1 for e in watch.events if e.event_type == event_type)


async def settled(stack: Stack, svc: Service) -> None:
    """Everything exec-sim published before now has reached the watchers: a later order's fill has."""
    proof = await stack.send(proposal(stack.f, "oanda-1", "EUR/USD.OANDA", OrderSide.BUY, "1"))
    await proof.until(has("order_filled"))
    await proof.close()


async def until(condition: Callable[[], bool]) -> None:
    """A state of the service reached, checked with a deadline (not a message: nothing to await)."""

    async def wait() -> None:
        while not condition():  # noqa: ASYNC110 (a state of the service, not a message: nothing to await)
            await asyncio.sleep(0.02)

    await asyncio.wait_for(wait(), DEADLINE_S)


def types(events: list[Event]) -> list[str]:
    return [e.event_type for e in events]


async def test_a_limit_resting_at_oanda_that_fills_later_is_booked_once_across_several_polls(stack: Stack) -> None:
    async with Service(stack.settings) as svc:
        p = proposal(
            stack.f, "oanda-1", "EUR/USD.OANDA", OrderSide.BUY, "10000", order_type=OrderType.LIMIT, limit="1.07500"
        )
        watch = await stack.send(p)
        await watch.until(has("order_accepted"))
        coid = watch.first("risk_decision").client_order_id
        assert await svc.exec_sim.reconcile() == []  # resting: nothing new
        stack.oanda.set_quote("EUR_USD", "1.07480", "1.07492")  # the ask crosses the limit at OANDA
        booked = await svc.exec_sim.reconcile()
        assert types(booked)[:3] == ["fill", "position", "order_filled"]
        assert await svc.exec_sim.reconcile() == [] and await svc.exec_sim.reconcile() == []
        await watch.until(has("order_filled"))
        await settled(stack, svc)
        assert (count(watch, "fill"), count(watch, "position"), count(watch, "order_filled")) == (1, 1, 1)
        fill = watch.first("fill")
        assert (fill.quantity, fill.price, fill.fee, fill.leaves_quantity) == (D(10000), D("1.07492"), D("0.5000"), 0)
        assert fill.correlation_id == p.correlation_id and fill.venue_order_id == stack.oanda.orders[coid]["id"]
        assert watch.first("position").position.quantity == D(10000)
        assert (await svc.orders("oanda-1"))[coid]["status"] == "filled"
        await watch.close()


async def test_a_partial_fill_then_the_rest_at_binance_are_two_fills_that_add_up_without_duplicates(
    stack: Stack,
) -> None:
    async with Service(stack.settings) as svc:
        p = proposal(
            stack.f, "binance-1", "BTC/USDT.BINANCE", OrderSide.BUY, "0.4", order_type=OrderType.LIMIT, limit="96000.00"
        )
        watch = await stack.send(p)
        await watch.until(has("order_accepted"))
        coid = watch.first("risk_decision").client_order_id
        stack.binance.trade_at("BTCUSDT", "95990.00", volume="0.1")
        assert types(await svc.exec_sim.reconcile())[:3] == ["fill", "position", "order_partially_filled"]
        assert await svc.exec_sim.reconcile() == []  # the same partial asked again: nothing new
        assert (await svc.orders("binance-1"))[coid]["status"] == "partially_filled"
        stack.binance.trade_at("BTCUSDT", "95980.00")
        assert types(await svc.exec_sim.reconcile())[:3] == ["fill", "position", "order_filled"]
        assert await svc.exec_sim.reconcile() == []
        await watch.until(has("order_filled"))
        await settled(stack, svc)
        fills = [e for e in watch.events if e.event_type == "fill"]
        assert [f.quantity for f in fills] == [D("0.1"), D("0.3")] and sum(f.quantity for f in fills) == D("0.4")
        assert len({f.event_id for f in fills}) == 2 and len({f.trade_id for f in fills}) == 2
        assert [f.leaves_quantity for f in fills] == [D("0.3"), 0]
        assert all(f.price == D("96000.00") and f.liquidity == "maker" for f in fills)
        assert [e.position.quantity for e in watch.events if e.event_type == "position"] == [D("0.1"), D("0.4")]
        assert (count(watch, "order_partially_filled"), count(watch, "order_filled")) == (1, 1)
        order = (await svc.orders("binance-1"))[coid]
        assert (order["status"], D(order["filled_quantity"]), D(order["avg_price"])) == ("filled", D("0.4"), D("96000"))
        assert len((await svc.client.get("/fills", params={"account_id": "binance-1"})).json()) == 2
        await watch.close()


async def test_an_order_whose_answer_was_lost_and_that_filled_is_resolved_by_the_poll_and_booked_once(
    stack: Stack,
) -> None:
    async with Service(stack.settings) as svc:
        stack.oanda_wire.lose = 1  # the order reaches OANDA and fills; the answer does not reach exec-sim
        watch = await stack.send(proposal(stack.f, "oanda-1", "EUR/USD.OANDA", OrderSide.BUY, "2000"))
        await watch.until(has("order_submitted"))
        coid = watch.first("risk_decision").client_order_id
        await until(lambda: coid in svc.exec_sim.venues.unknown)
        booked = await svc.exec_sim.reconcile()
        assert types(booked)[:4] == ["order_accepted", "fill", "position", "order_filled"]
        assert await svc.exec_sim.reconcile() == []  # filled and known: no longer asked
        await watch.until(has("order_filled"))
        await settled(stack, svc)
        assert count(watch, "fill") == 1 and watch.first("fill").quantity == D(2000)
        order = (await svc.orders("oanda-1"))[coid]
        assert (order["status"], order["unknown_reason"]) == ("filled", None)
        assert (await svc.client.get("/readyz")).json()["unknown_orders"] == 0
        assert sum(1 for units, _ in stack.oanda.positions["EUR_USD"] if units == D(2000)) == 1
        await watch.close()


async def test_an_order_the_exchange_never_got_stays_unknown_within_the_grace_then_is_rejected(
    stack: Stack,
) -> None:
    async with Service(stack.settings) as svc:
        stack.binance.down = True  # the request fails at the gateway: exec-sim cannot know it never arrived
        watch = await stack.send(proposal(stack.f, "binance-1", "BTC/USDT.BINANCE", OrderSide.BUY, "0.01"))
        await watch.until(has("order_submitted"))
        coid = watch.first("risk_decision").client_order_id
        await until(lambda: coid in svc.exec_sim.venues.unknown)
        stack.binance.down = False
        assert await svc.exec_sim.reconcile() == []  # not found, but a slow request might still arrive
        assert (await svc.orders("binance-1"))[coid]["status"] == "unknown"
        svc.exec_sim.settings = svc.exec_sim.settings.model_copy(update={"broker_absent_grace_s": 0})
        assert types(await svc.exec_sim.reconcile()) == ["order_rejected"]
        assert await svc.exec_sim.reconcile() == []
        rejected = (await watch.until(has("order_rejected")))[-1]
        assert rejected.reason == "not_at_broker" and "never placed" in rejected.message
        assert rejected.venue == "BINANCE" and "fill" not in watch.types()
        assert (await svc.orders("binance-1"))[coid]["status"] == "rejected"
        assert svc.exec_sim.venues.unknown == {} and stack.binance.orders == {}
        await watch.close()


async def test_the_poll_loop_survives_a_broker_outage_booking_nothing_then_books_the_fill_once(
    stack: Stack,
) -> None:
    settings = stack.settings.model_copy(update={"broker_poll_interval_s": 0.05})
    async with Service(settings) as svc:
        p = proposal(
            stack.f, "oanda-1", "EUR/USD.OANDA", OrderSide.SELL, "5000", order_type=OrderType.LIMIT, limit="1.08500"
        )
        watch = await stack.send(p)
        await watch.until(has("order_accepted"))
        coid = watch.first("risk_decision").client_order_id
        link = svc.exec_sim.venues.links["OANDA"]
        stack.oanda.down = True
        stack.oanda.set_quote("EUR_USD", "1.08510", "1.08522")  # fills at OANDA while exec-sim cannot ask
        await until(lambda: link.poll_failures >= 3)
        assert "fill" not in watch.types() and (await svc.orders("oanda-1"))[coid]["status"] == "accepted"
        assert "503" in (link.last_error or "") and not svc.exec_sim.poller.done()
        stack.oanda.down = False
        await watch.until(has("order_filled"))
        polls = svc.exec_sim.venues.polls
        await until(lambda: svc.exec_sim.venues.polls >= polls + 3)  # three more rounds after the fill
        await settled(stack, svc)
        assert count(watch, "fill") == 1 and watch.first("fill").price == D("1.08510")
        assert (await svc.orders("oanda-1"))[coid]["status"] == "filled"
        await watch.close()


async def test_a_market_order_the_broker_never_got_before_a_crash_long_ago_is_not_resent_but_rejected_by_the_poll(
    stack: Stack,
) -> None:
    async with Service(stack.settings, ManualClock(T0)) as svc:
        stack.oanda.down = True  # the order never reaches OANDA; then exec-sim goes down
        watch = await stack.send(proposal(stack.f, "oanda-1", "EUR/USD.OANDA", OrderSide.BUY, "2000"))
        await watch.until(has("order_submitted"))
        coid = watch.first("risk_decision").client_order_id
        await until(lambda: coid in svc.exec_sim.venues.unknown)
    stack.oanda.down = False
    clock = ManualClock(T0 + 2 * HOUR)  # back two hours later: a market order now is not the trade asked for
    async with Service(stack.settings, clock) as again:
        order = (await again.orders("oanda-1"))[coid]
        assert order["status"] == "unknown"
        assert order["unknown_reason"] == "submitted 7200 s ago, in flight at a crash: not resent; check the broker"
        assert stack.oanda.orders == {}  # not sent again
        assert await again.exec_sim.reconcile() == []  # OANDA does not know it: within the grace
        clock.advance(int(stack.settings.broker_absent_grace_s * 1e9))
        assert types(await again.exec_sim.reconcile()) == ["order_rejected"]
        rejected = (await watch.until(has("order_rejected")))[-1]
        assert (rejected.reason, rejected.venue) == ("not_at_broker", "OANDA")
        assert (await again.orders("oanda-1"))[coid]["status"] == "rejected"
        assert stack.oanda.orders == {} and again.exec_sim.venues.unknown == {}
    await watch.close()


async def test_a_market_order_filled_at_oanda_whose_answer_was_lost_before_a_crash_long_ago_is_booked_not_resent(
    stack: Stack,
) -> None:
    async with Service(stack.settings, ManualClock(T0)) as svc:
        stack.oanda_wire.lose = 1  # the order fills at OANDA; the answer is lost; then exec-sim goes down
        watch = await stack.send(proposal(stack.f, "oanda-1", "EUR/USD.OANDA", OrderSide.BUY, "2000"))
        await watch.until(has("order_submitted"))
        coid = watch.first("risk_decision").client_order_id
        await until(lambda: coid in svc.exec_sim.venues.unknown)
    async with Service(stack.settings, ManualClock(T0 + 2 * HOUR)) as again:
        reason = (await again.orders("oanda-1"))[coid]["unknown_reason"]
        assert "not resent" in reason  # not "already has this client order id": it was not sent again
        booked = await again.exec_sim.reconcile()
        assert types(booked)[:4] == ["order_accepted", "fill", "position", "order_filled"]
        assert await again.exec_sim.reconcile() == []
        await watch.until(has("order_filled"))
        assert count(watch, "fill") == 1 and watch.first("fill").quantity == D(2000)
        assert (await again.orders("oanda-1"))[coid]["status"] == "filled"
    assert [o["units"] for o in stack.oanda.orders.values()] == ["2000"]
    await watch.close()


async def _forget_after_the_decision(stack: Stack, correlation_id: str) -> None:
    """Stage a crash between the risk decision and the submission: drop what came after the
    decision (for this alert) from AT_EXECUTION, as if it had never been published."""
    sub = await stack.bus.js.pull_subscribe(subjects.ALL, stream="AT_EXECUTION")
    for msg in await sub.fetch(100, timeout=5):
        event = decode_event(msg.data)
        if event.correlation_id == correlation_id and event.event_type != "risk_decision":
            await stack.bus.js.delete_msg("AT_EXECUTION", msg.metadata.sequence.stream)
    await sub.unsubscribe()


@pytest.mark.parametrize(("away_hours", "sent_again"), [(0, True), (2, False)])
async def test_a_market_order_decided_but_never_sent_before_a_crash_is_sent_at_restart_only_while_fresh(
    stack: Stack, away_hours: int, sent_again: bool
) -> None:
    async with Service(stack.settings, ManualClock(T0)) as svc:
        stack.oanda.down = True  # OANDA never gets it, and exec-sim then dies
        watch = await stack.send(proposal(stack.f, "oanda-1", "EUR/USD.OANDA", OrderSide.BUY, "2000"))
        await watch.until(has("order_submitted"))
        coid = watch.first("risk_decision").client_order_id
        await until(lambda: coid in svc.exec_sim.venues.unknown)
    stack.oanda.down = False
    await _forget_after_the_decision(stack, watch.correlation_id)
    async with Service(stack.settings, ManualClock(T0 + away_hours * HOUR)) as again:
        order = (await again.orders("oanda-1"))[coid]
        if sent_again:
            assert order["status"] == "filled" and stack.oanda.orders[coid]["state"] == "FILLED"
        else:
            assert order["status"] == "rejected" and stack.oanda.orders == {}
            rejected = (await watch.until(has("order_rejected")))[-1]
            assert rejected.reason == "stale_after_restart" and "never sent" in rejected.message
    await watch.close()


async def test_a_binance_market_order_filled_with_its_answer_lost_is_found_not_placed_again_by_a_prompt_restart(
    stack: Stack,
) -> None:
    # Binance takes a client order id again once the first order has filled (unique among open
    # orders only): a resend after the crash would be a second order, so it is asked for first.
    async with Service(stack.settings, ManualClock(T0)) as svc:
        stack.binance.lose["order"] = 1  # it fills at Binance; the answer is lost; then exec-sim goes down
        watch = await stack.send(proposal(stack.f, "binance-1", "BTC/USDT.BINANCE", OrderSide.BUY, "0.01"))
        await watch.until(has("order_submitted"))
        coid = watch.first("risk_decision").client_order_id
        await until(lambda: coid in svc.exec_sim.venues.unknown)
    assert [o["clientOrderId"] for o in stack.binance.placed] == [coid]
    async with Service(stack.settings, ManualClock(T0)) as again:  # back at once: within the resend window
        await watch.until(has("order_filled"))  # found at Binance, filled, and booked as its answer
        assert await again.exec_sim.reconcile() == []
        assert count(watch, "fill") == 1 and watch.first("fill").quantity == D("0.01")
        assert (await again.orders("binance-1"))[coid]["status"] == "filled"
    assert [o["clientOrderId"] for o in stack.binance.placed] == [coid]  # one order at the exchange, never two
    await watch.close()
