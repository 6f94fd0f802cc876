"""The agents service end to end over a real nats-server: signal in, analyses and a proposal out."""

from __future__ import annotations

import asyncio

import httpx
import nats
import pytest
import uvicorn
from tests.helpers import factory, signal

from at_agents.config import AgentsSettings
from at_agents.main import create_app
from at_core import subjects
from at_core.metrics import MetricCatalog
from at_core.runtime.bus import EventBus
from at_core.serialization import decode_event
from at_core.testing import NatsServer, free_port

pytestmark = pytest.mark.integration


async def test_a_signal_becomes_analyses_and_one_proposal_under_its_correlation_id(nats_server: NatsServer) -> None:
    port = free_port()
    app = create_app(AgentsSettings(nats_url=nats_server.url, port=port))
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    task = asyncio.create_task(server.serve())
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}")
    for _ in range(200):
        try:
            if (await client.get("/readyz")).status_code == 200:
                break
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.05)
    sig = signal(factory())
    nc = await nats.connect(nats_server.url)
    got: list = []
    done = asyncio.Event()

    async def on(msg) -> None:
        event = decode_event(msg.data)
        if event.correlation_id == sig.correlation_id and event.event_type != "signal":
            got.append(event)
            if event.event_type == "trade_proposal":
                done.set()

    await nc.subscribe(subjects.ALL, cb=on)
    bus = await EventBus.connect(nats_server.url, service="test", metrics=MetricCatalog("test").build())
    await bus.publish(sig)
    await asyncio.wait_for(done.wait(), 10)
    # published together, acks awaited as one batch, and stored in the order sent: views before the proposal
    assert [e.event_type for e in got] == ["agent_analysis"] * 4 + ["trade_proposal"]
    # The decision is recorded once its events are acknowledged, a moment after subscribers see them.
    for _ in range(200):
        decisions = (await client.get("/decisions", params={"symbol": "MES.CME"})).json()
        if decisions:
            break
        await asyncio.sleep(0.05)
    assert decisions[0]["signal_event_id"] == sig.event_id and decisions[0]["proposal"] is not None
    listing = (await client.get("/agents")).json()
    assert {a["agent_id"] for a in listing["agents"]} == {
        "signal_follower",
        "trend_filter",
        "volatility_sizer",
        "session_guard",
    }
    assert "at_agents_proposals_total" in (await client.get("/metrics")).text
    # A redelivered signal yields the same ids: JetStream drops the repeated proposal.
    await app.state.service.on_signal(sig)
    registry = app.state.service.metrics.registry
    labels = {"event_type": "trade_proposal", "subject_family": "at.agent", "outcome": "duplicate"}
    assert registry.get_sample_value("at_agents_events_published_total", labels) == 1
    await bus.close()
    await nc.close()
    server.should_exit = True
    await task
    await client.aclose()


FOLLOW_ONLY = """committees:
  - name: follow
    strategies: ["*"]
    rule: weighted_mean
    threshold: "0.2"
    deadline_s: 5.0
    members:
      - {agent_id: signal_follower, weight: "1"}
    max_quantity: {future: "10", fx: "1000000", crypto_spot: "5", crypto_perp: "5"}
"""


async def test_a_bar_strategy_publishes_its_signal_from_market_data_and_the_committee_proposes_on_it(
    nats_server: NatsServer, tmp_path
) -> None:
    import random
    from datetime import UTC, datetime
    from decimal import Decimal

    from at_agents.config import BarSignalConfig
    from at_core.clock import ManualClock
    from at_core.events import BarData, EventFactory, MarketDataEvent
    from at_core.ids import IdGenerator
    from at_core.models.enums import IngestSource

    (tmp_path / "committees.yaml").write_text(FOLLOW_ONLY)
    cfg = BarSignalConfig(
        account_id="paper-1", strategy_id="ma", instrument_id="MES.CME", kind="ma_cross", params={"fast": 1, "slow": 2}
    )
    port = free_port()
    settings = AgentsSettings(
        nats_url=nats_server.url, port=port, committees_file=str(tmp_path / "committees.yaml"), bar_signals=[cfg]
    )
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}")
    for _ in range(200):
        try:
            if (await client.get("/readyz")).status_code == 200:
                break
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.05)  # /readyz is HTTP state, no message to await
    nc = await nats.connect(nats_server.url)
    signals: list = []
    proposals: list = []
    done = asyncio.Event()

    async def on(msg) -> None:
        event = decode_event(msg.data)
        if event.event_type == "signal":
            signals.append((msg.subject, event))
        elif event.event_type == "trade_proposal":
            proposals.append(event)
            done.set()

    await nc.subscribe(subjects.ALL, cb=on)
    start = int(datetime(2026, 3, 2, 15, tzinfo=UTC).timestamp()) * 10**9  # a Monday, in the CME session
    clock = ManualClock(start)
    feed = EventFactory("gateway", clock, IdGenerator(clock, random.Random(5)))
    bars = []
    for i, close in enumerate(["6000", "6001", "6002", "6000"]):  # up from the start, then a cross down
        clock.advance_to(start + (i + 1) * 60 * 10**9)
        c = Decimal(close)
        data = BarData(interval="1", open=c, high=c, low=c, close=c, ts_open=start + i * 60 * 10**9)
        bars.append(feed.make(MarketDataEvent, instrument_id="MES.CME", venue="CME", data=data))
    bus = await EventBus.connect(nats_server.url, service="test", metrics=MetricCatalog("test").build())
    for bar in bars:
        await bus.publish(bar)
    await asyncio.wait_for(done.wait(), 15)
    ((subject, sig),) = signals
    assert subject == subjects.signal("agent", "paper-1", "ma", "MES.CME") and sig.origin is IngestSource.AGENT
    assert subject.startswith("at.signal.agent.paper-1.ma.")
    assert (sig.causation_id, sig.ts_event, sig.position_size) == (bars[3].event_id, bars[3].ts_event, Decimal(-1))
    (proposal,) = proposals
    assert (proposal.signal_event_id, proposal.account_id, proposal.target_position) == (sig.event_id, "paper-1", -1)
    # the bar again (a redelivery): the strategy ignores it, no second signal
    assert await app.state.service.on_market_data(bars[3]) == []
    await bus.close()
    await nc.close()
    server.should_exit = True
    await task
    await client.aclose()
