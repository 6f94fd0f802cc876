"""The paper broker across a kill -9 of exec-sim, as a real process over a real nats-server: its
book lives in exec-sim's memory, so the restarted service rebuilds it from what it published
(the fills, the orders resting there as last modified) before anything is sent. A bracketed
position keeps its stop and target under the same ids and prices, the poller does not take them
for orders lost at the broker, and a quote through the stop fills it exactly once and cancels the
target (OCO)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import nats
import pytest
from tests.helpers import T0, factory, proposal, quote
from tests.integration.test_broker_routing import Service, Watch
from tests.process import ExecSimProcess, exec_sim

from at_core.clock import ManualClock
from at_core.events import Event, EventFactory
from at_core.metrics import MetricCatalog
from at_core.models.brackets import BracketLevel, BracketSpec, BracketUnit
from at_core.models.enums import OrderSide
from at_core.runtime.bus import EventBus
from at_core.serialization import decode_event
from at_core.testing import NatsServer
from at_exec_sim.config import ExecSimSettings

pytestmark = pytest.mark.integration
D = Decimal
EURUSD = "EUR/USD.FX"
BRACKET = BracketSpec(
    stop_loss=BracketLevel(value=D(100), unit=BracketUnit.TICKS),  # 0.00100 below the entry
    take_profit=BracketLevel(value=D(200), unit=BracketUnit.TICKS),  # 0.00200 above
)


@dataclass
class Paper:
    url: str
    bus: EventBus
    f: EventFactory
    env: dict[str, str]
    run_dir: Path


@pytest.fixture
async def paper(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Paper]:
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text("accounts:\n  - {account_id: demo-1, profile: retail, venue: PAPER}\n")
    bus = await EventBus.connect(nats_server.url, service="test", metrics=MetricCatalog("test").build())
    await bus.ensure_streams()
    f = factory()
    await bus.publish(quote(f, EURUSD, "1.08010", "1.08022"))
    settings = {
        "nats_url": nats_server.url,
        "accounts_file": str(accounts),
        "paper_enabled": "true",
        "broker_poll_interval_s": "0.2",
        # an order the poller cannot find at its broker is rejected not_at_broker after this: the
        # restored children must be found there, or the first rounds after the restart reject them
        "broker_absent_grace_s": "0",
        "log_level": "INFO",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("AT_")}
    env |= {f"AT_EXEC_SIM_{k.upper()}": v for k, v in settings.items()}
    try:
        yield Paper(nats_server.url, bus, f, env, tmp_path)
    finally:
        await bus.close()


def bracketed(f: EventFactory) -> Event:
    p = proposal(f, "demo-1", EURUSD, OrderSide.BUY, "1000")
    return p.model_copy(update={"order": p.order.model_copy(update={"bracket": BRACKET})})


def count(event_type: str, coid: str, **where: Any) -> Callable[[list[Event]], int]:
    def n(got: list[Event]) -> int:
        return sum(
            1
            for e in got
            if e.event_type == event_type
            and getattr(e, "client_order_id", None) == coid
            and all(getattr(e, k) == v for k, v in where.items())
        )

    return n


async def on_jetstream(url: str) -> list[Event]:
    """Every event the execution stream holds, in order."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info("AT_EXECUTION")
        return [
            decode_event((await js.get_msg("AT_EXECUTION", seq)).data)
            for seq in range(info.state.first_seq, info.state.last_seq + 1)
        ]
    finally:
        await nc.close()


def logged(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The JSON log lines of a run, by event."""
    out: dict[str, list[dict[str, Any]]] = {}
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            out.setdefault(row.get("event", ""), []).append(row)
    return out


async def polled(proc: ExecSimProcess, rounds: int = 3) -> None:
    """Let the poller run a few rounds (each asks the paper broker about every open order)."""
    await asyncio.sleep(0.2 * rounds + 0.2)
    assert proc.proc.poll() is None


async def bracketed_position(paper: Paper) -> tuple[ExecSimProcess, Watch, str]:
    """A first exec-sim process, a bracketed proposal filled on paper with both children resting
    (the watch follows its correlation); the entry's client order id."""
    p = bracketed(paper.f)
    watch = await Watch(p.correlation_id).start(paper.url)
    first = ExecSimProcess(paper.env, paper.run_dir, "exec-sim-1")
    try:
        await first.ready()
        await paper.bus.publish(p)
        await watch.until(lambda got: sum(1 for e in got if e.event_type == "order_accepted" and e.bracket_role) == 2)
    except BaseException:
        await first.stop()
        raise
    return first, watch, watch.first("risk_decision").client_order_id


async def test_a_kill_9_leaves_the_paper_stop_and_target_resting_and_a_quote_through_the_stop_fills_it_once(
    paper: Paper,
) -> None:
    first, watch, coid = await bracketed_position(paper)
    try:
        sl, tp = f"{coid}:sl", f"{coid}:tp"
        before = await first.orders("demo-1")
        first.kill9()
    finally:
        await first.stop()
    entry = watch.first("fill").price  # the mid, 1.08016
    stop_price, target_price = entry - D("0.00100"), entry + D("0.00200")
    async with exec_sim(paper.env, paper.run_dir, "exec-sim-2") as again:
        await polled(again)
        orders = await again.orders("demo-1")
        for child, price_key, price in ((sl, "stop_price", stop_price), (tp, "limit_price", target_price)):
            assert orders[child]["status"] == "accepted"  # found at the paper broker: not not_at_broker
            assert D(orders[child]["order"][price_key]) == price
            assert orders[child]["venue_order_id"] == before[child]["venue_order_id"] == f"PAPER-{child}"
        positions = (await again.client.get("/venues/PAPER/positions")).json()
        assert [(r["instrument_id"], D(r["quantity"])) for r in positions] == [(EURUSD, D(1000))]

        await paper.bus.publish(quote(paper.f, EURUSD, "1.07911", "1.07923"))  # a tick above the stop: rests
        await polled(again)
        assert not [e for e in watch.events if e.event_type == "fill" and e.client_order_id == sl]
        await paper.bus.publish(quote(paper.f, EURUSD, "1.07900", "1.07912"))  # through the stop
        await watch.until(lambda got: count("order_canceled", tp, reason="oco")(got) == 1)
        await paper.bus.publish(quote(paper.f, EURUSD, "1.07800", "1.07812"))  # further: nothing left to fill
        await polled(again)
        orders = await again.orders("demo-1")
        assert (orders[coid]["status"], orders[sl]["status"], orders[tp]["status"]) == ("filled", "filled", "canceled")
        assert (await again.client.get("/venues/PAPER/positions")).json() == []
    log = logged(paper.run_dir / "exec-sim-2.log")
    assert [(r["venue"], r["fills"], r["resting"]) for r in log["venue_book_restored"]] == [("PAPER", 1, 2)]
    # the target rested at the paper broker: the OCO's cancel there found it
    assert [(r["client_order_id"], r["status"]) for r in log["broker_orphan_canceled"]] == [(tp, "canceled")]
    stream = await on_jetstream(paper.url)
    fills = [e for e in stream if e.event_type == "fill"]
    assert [(e.client_order_id, e.quantity, e.price) for e in fills] == [
        (coid, D(1000), entry),
        (sl, D(1000), D("1.07906")),  # the mid that went through the stop, once
    ]
    assert count("order_submitted", sl)(stream) == count("order_submitted", tp)(stream) == 1  # never placed again
    assert not [e for e in stream if e.event_type == "order_rejected"]
    await watch.close()


async def test_a_child_resized_before_the_kill_comes_back_at_its_new_size(paper: Paper) -> None:
    first, watch, coid = await bracketed_position(paper)
    try:
        cut = proposal(paper.f, "demo-1", EURUSD, OrderSide.SELL, "400")  # the position cut by another order
        await paper.bus.publish(cut)
        await watch.until(lambda got: sum(1 for e in got if e.event_type == "order_updated") == 2)
        # killed whether or not the modifies reached the paper broker: its book comes back from the stream
        first.kill9()
    finally:
        await first.stop()
    async with exec_sim(paper.env, paper.run_dir, "exec-sim-2") as again:
        await polled(again)
        positions = (await again.client.get("/venues/PAPER/positions")).json()
        assert [(r["instrument_id"], D(r["quantity"])) for r in positions] == [(EURUSD, D(600))]
        await paper.bus.publish(quote(paper.f, EURUSD, "1.07900", "1.07912"))  # through the stop
        await watch.until(lambda got: count("order_canceled", f"{coid}:tp", reason="oco")(got) == 1)
        await polled(again)
        assert (await again.client.get("/venues/PAPER/positions")).json() == []
    fills = [e for e in await on_jetstream(paper.url) if e.event_type == "fill" and e.client_order_id == f"{coid}:sl"]
    assert [(e.quantity, e.price) for e in fills] == [(D(600), D("1.07906"))]  # the resized stop, once
    await watch.close()


async def test_children_submitted_but_never_answered_before_the_stop_rest_at_the_paper_broker_after_it(
    paper: Paper,
) -> None:
    """exec-sim stops after publishing the children's ``OrderSubmitted`` and before the paper
    broker's answer (their submit held): the paper broker never had them, and its book is rebuilt
    from the stream, so the restart rests them there (in process: the hold needs the adapter)."""
    settings = ExecSimSettings(
        nats_url=paper.url, accounts_file=str(paper.run_dir / "accounts.yaml"), paper_enabled=True,
        broker_poll_interval_s=0, broker_absent_grace_s=0,
    )  # fmt: skip
    p = bracketed(paper.f)
    watch = await Watch(p.correlation_id).start(paper.url)
    held = asyncio.Event()
    async with Service(settings, ManualClock(T0)) as svc:
        broker = svc.exec_sim.venues.links["PAPER"].adapter
        submit = broker.submit

        async def hold_children(coid: str, inst: Any, spec: Any) -> Any:
            if coid.endswith((":sl", ":tp")):
                held.set()
                await asyncio.Event().wait()  # the answer never comes: the service stops first
            return await submit(coid, inst, spec)

        broker.submit = hold_children  # type: ignore[method-assign]
        await paper.bus.publish(p)
        await asyncio.wait_for(held.wait(), 30)
        await watch.until(lambda got: sum(1 for e in got if e.event_type == "order_submitted") == 3)
    coid = watch.first("risk_decision").client_order_id
    sl, tp = f"{coid}:sl", f"{coid}:tp"
    assert not [e for e in watch.events if e.event_type == "order_accepted" and e.bracket_role]
    async with Service(settings, ManualClock(T0 + 10**9)) as again:
        await again.exec_sim.reconcile()  # the poller's round: both found at the paper broker
        orders = await again.orders("demo-1")
        assert (orders[sl]["status"], orders[tp]["status"]) == ("accepted", "accepted")
        await paper.bus.publish(quote(paper.f, EURUSD, "1.07900", "1.07912"))  # through the stop
        await watch.until(lambda got: count("order_canceled", tp, reason="oco")(got) == 1)
    stream = await on_jetstream(paper.url)
    assert [(e.client_order_id, e.quantity) for e in stream if e.event_type == "fill"] == [
        (coid, D(1000)), (sl, D(1000)),
    ]  # fmt: skip
    assert count("order_accepted", sl)(stream) == count("order_accepted", tp)(stream) == 1
    assert not [e for e in stream if e.event_type == "order_rejected"]
    await watch.close()
