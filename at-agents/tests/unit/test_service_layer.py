"""The agents' service layer: typed dispatch to one handler per input, the consumers' table as
provisioned, and the MCP proposal built through the service's EventFactory."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from tests.helpers import T0, factory, signal

from at_agents.api.mcp_server import ANCHOR_ROOT, McpTools
from at_agents.bootstrap import build
from at_agents.config import AgentsSettings
from at_agents.consumers import DURABLES
from at_core.clock import ManualClock
from at_core.constants import SERVICE_AGENTS
from at_core.durables import durables_of
from at_core.events import MarketDataEvent
from at_core.ids import derive_id
from at_core.models.enums import OrderSide
from at_core.testing.examples import example_events


def test_the_consumers_bind_exactly_the_durables_provisioning_makes_for_agents() -> None:
    provisioned = {(d.filter_subject, d.suffix) for d in durables_of(SERVICE_AGENTS)}
    assert set(DURABLES) == provisioned and len(DURABLES) == len(provisioned)


def test_a_signal_is_dispatched_to_the_committee_and_returns_what_it_published() -> None:
    svc = build(AgentsSettings(replay_mode=True), ManualClock(T0))
    out = asyncio.run(svc.handle(signal(factory())))
    assert [e.event_type for e in out].count("agent_analysis") == 4 and out[-1].event_type == "trade_proposal"
    assert len(svc.decisions) == 1


def test_context_inputs_update_the_context_and_publish_nothing() -> None:
    svc = build(AgentsSettings(replay_mode=True), ManualClock(T0))
    market = example_events()["market_data"]
    assert isinstance(market, MarketDataEvent)
    assert asyncio.run(svc.handle(market)) == []
    assert market.instrument_id in svc.ctx.last_price or market.instrument_id in svc.ctx.bars


def test_an_event_the_agents_do_not_read_is_ignored() -> None:
    svc = build(AgentsSettings(replay_mode=True), ManualClock(T0))
    assert asyncio.run(svc.handle(example_events()["heartbeat"])) == []
    assert not svc.decisions


def test_an_mcp_proposal_takes_its_ids_from_the_idempotency_key_through_the_factory() -> None:
    svc = build(AgentsSettings(replay_mode=True), ManualClock(T0))
    tools = McpTools(svc)
    make = lambda: tools.proposal("paper-1", "MES.CME", OrderSide.BUY, Decimal(1), "ext-key-01", "why", True)  # noqa: E731
    first = make()
    svc.clock.advance(10**9)  # type: ignore[attr-defined]
    again = make()
    anchor = derive_id(ANCHOR_ROOT, "mcp-propose:ext-key-01", ts_ns=0)
    assert first.event_id == again.event_id == derive_id(anchor, "proposal")
    assert first.correlation_id == anchor and first.causation_id is None and first.signal_event_id == anchor
    assert first.source == "agents" and first.ts_event == first.ts_init == T0
    assert first.order.client_order_id == f"M-{anchor}" and first.paper and first.committee == "mcp"


def test_a_recorded_decision_reads_as_the_json_of_the_events_it_published() -> None:
    svc = build(AgentsSettings(replay_mode=True), ManualClock(T0))
    sig = signal(factory())
    out = asyncio.run(svc.handle(sig))
    record = svc.decisions[-1]
    assert record["signal_event_id"] == sig.event_id and record["reason"]
    assert record["proposal"] == out[-1].model_dump(mode="json")
    assert record["analyses"] == [e.model_dump(mode="json") for e in out[:-1]]
    row = record.as_json()
    assert list(row) == list(record) and row["proposal"]["event_id"] == out[-1].event_id


def test_a_redelivered_signal_publishes_the_same_ids_and_is_remembered_once() -> None:
    svc = build(AgentsSettings(replay_mode=True), ManualClock(T0))
    sig = signal(factory())
    first, again = asyncio.run(svc.handle(sig)), asyncio.run(svc.handle(sig))
    assert [e.event_id for e in first] == [e.event_id for e in again]
    assert [e.kind for e in svc.memory[("s", "MES.CME")].entries] == ["signal", "decision"]
