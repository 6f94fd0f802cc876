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
