"""exec-sim end to end over a real nats-server and a real uvicorn server."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import nats
import pytest
import uvicorn
from nats.js.api import DiscardPolicy
from tests.helpers import factory, proposal, quote

from at_core import subjects
from at_core.metrics import MetricCatalog
from at_core.models.enums import OrderSide
from at_core.runtime.bus import EventBus
from at_core.serialization import decode_event
from at_core.service_kit import Scope, dev_headers
from at_core.testing import NatsServer, free_port
from at_exec_sim.config import ExecSimSettings
from at_exec_sim.main import create_app

pytestmark = pytest.mark.integration


class Running:
    def __init__(self, url: str) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(
                create_app(ExecSimSettings(nats_url=url, port=self.port)),
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
            )
        )
        self.client = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.port}", timeout=10, headers=dev_headers(Scope.OPERATOR)
        )

    async def __aenter__(self) -> Running:
        self.task = asyncio.create_task(self.server.serve())
        for _ in range(400):
            try:
                if (await self.client.get("/readyz")).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
        raise RuntimeError("exec-sim not ready")

    async def __aexit__(self, *_: object) -> None:
        self.server.should_exit = True
        await self.task
        await self.client.aclose()


@pytest.fixture
async def bus(nats_server: NatsServer) -> AsyncIterator[EventBus]:
    b = await EventBus.connect(nats_server.url, service="test", metrics=MetricCatalog("test").build())
    await b.ensure_streams()
    yield b
    await b.close()


async def _collect(url: str, correlation_id: str, until: str, timeout: float = 10) -> list:
    nc = await nats.connect(url)
    got: list = []
    done = asyncio.Event()

    async def on(msg) -> None:
        event = decode_event(msg.data)
        if event.correlation_id == correlation_id:
            got.append(event)
            if event.event_type == until:
                done.set()

    await nc.subscribe(subjects.ALL, cb=on)
    return nc, got, done


async def test_a_proposal_becomes_a_decision_an_order_a_fill_and_a_position(
    nats_server: NatsServer, bus: EventBus
) -> None:
    f = factory()
    async with Running(nats_server.url) as svc:
        await bus.publish(quote(f, "MES.CME", "5000.00", "5000.25"))
        p = proposal(f, "paper-1", "MES.CME", OrderSide.BUY, "2")
        nc, got, done = await _collect(nats_server.url, p.correlation_id, "position")
        await bus.publish(p)
        await asyncio.wait_for(done.wait(), 10)
        types = [e.event_type for e in got]
        for expected in ("risk_decision", "order_submitted", "order_accepted", "fill", "position"):
            assert expected in types
        positions = (await svc.client.get("/positions", params={"account_id": "paper-1"})).json()
        assert positions[0]["quantity"] == "2" and positions[0]["avg_price"] == "5000.25"
        assert "at_exec_sim_fills_total" in (await svc.client.get("/metrics")).text
        await nc.close()


async def test_an_unknown_account_is_denied_with_a_reason(nats_server: NatsServer, bus: EventBus) -> None:
    f = factory()
    async with Running(nats_server.url):
        await bus.publish(quote(f, "MES.CME", "5000.00", "5000.25"))
        p = proposal(f, "nobody", "MES.CME", OrderSide.BUY, "1")
        nc, got, done = await _collect(nats_server.url, p.correlation_id, "risk_decision")
        await bus.publish(p)
        await asyncio.wait_for(done.wait(), 10)
        decision = next(e for e in got if e.event_type == "risk_decision")
        assert decision.approved is False and decision.reasons[0].code == "unknown_account"
        await nc.close()


async def test_positions_survive_a_restart_without_double_counting(nats_server: NatsServer, bus: EventBus) -> None:
    f = factory()
    async with Running(nats_server.url):
        await bus.publish(quote(f, "MES.CME", "5000.00", "5000.25"))
        p = proposal(f, "paper-1", "MES.CME", OrderSide.BUY, "3")
        nc, _got, done = await _collect(nats_server.url, p.correlation_id, "position")
        await bus.publish(p)
        await asyncio.wait_for(done.wait(), 10)
        await nc.close()
    async with Running(nats_server.url) as again:
        positions = (await again.client.get("/positions", params={"account_id": "paper-1"})).json()
        assert positions[0]["quantity"] == "3"
        # The same proposal again, past JetStream's duplicate window (another Msg-Id): the recovered
        # decisions make it a no-op. A later proposal on the same consumer proves it was processed.
        from at_core.serialization import encode_event

        await bus.js.publish(subjects.subject_for(p), encode_event(p), headers={"Nats-Msg-Id": "redelivered-later"})
        later = proposal(f, "paper-1", "MES.CME", OrderSide.SELL, "1")
        nc, _got, done = await _collect(nats_server.url, later.correlation_id, "position")
        await bus.publish(later)
        await asyncio.wait_for(done.wait(), 10)
        await nc.close()
        fills = (await again.client.get("/fills", params={"account_id": "paper-1"})).json()
        assert [(x["side"], x["quantity"]) for x in fills] == [("sell", "1"), ("buy", "3")]
        positions = (await again.client.get("/positions", params={"account_id": "paper-1"})).json()
        assert positions[0]["quantity"] == "2"


async def test_the_kill_switch_halts_and_resume_lifts_it(nats_server: NatsServer) -> None:
    async with Running(nats_server.url) as svc:
        r = await svc.client.post("/kill-switch", json={"account_id": "paper-1", "flatten": True})
        assert r.status_code == 200 and r.json()["status"] == "halted"
        account = (await svc.client.get("/account", params={"account_id": "paper-1"})).json()[0]
        assert account["trading_state"] == "halted"
        assert (await svc.client.post("/resume", json={"account_id": "paper-1"})).json()["status"] == "active"
        assert (await svc.client.post("/kill-switch", json={"account_id": "ghost"})).status_code == 404


async def test_outputs_jetstream_refused_are_published_once_in_order_before_the_next_input(
    nats_server: NatsServer, bus: EventBus
) -> None:
    """AT_EXECUTION refuses writes (as while it elects a leader): the proposal's decision, order and
    fill stay in exec-sim's outbox and the proposal is redelivered; once the stream takes writes
    again every output is published exactly once, in order, and nothing is decided twice."""
    f = factory()
    async with Running(nats_server.url) as svc:
        await bus.publish(quote(f, "MES.CME", "5000.00", "5000.25"))
        first = proposal(f, "paper-1", "MES.CME", OrderSide.BUY, "1")
        nc, _got, done = await _collect(nats_server.url, first.correlation_id, "position")
        await bus.publish(first)
        await asyncio.wait_for(done.wait(), 10)
        await nc.close()

        info = await bus.js.stream_info("AT_EXECUTION")
        full = replace(info.config, max_msgs=info.state.messages, discard=DiscardPolicy.NEW)
        await bus.js.update_stream(full)
        refused = proposal(f, "paper-1", "MES.CME", OrderSide.BUY, "2")
        await bus.publish(refused)

        async def outbox_holds_outputs() -> None:
            while (await svc.client.get("/readyz")).json()["unpublished_events"] == 0:  # noqa: ASYNC110 (a state read over HTTP)
                await asyncio.sleep(0.05)

        await asyncio.wait_for(outbox_holds_outputs(), 10)
        assert (await svc.client.get("/readyz")).json()["degraded"] is True
        waiting = re.search(r"^at_exec_sim_unpublished_events (\S+)$", (await svc.client.get("/metrics")).text, re.M)
        assert waiting is not None and float(waiting.group(1)) > 0
        halted = await svc.client.post("/kill-switch", json={"account_id": "paper-1", "flatten": False})
        assert halted.status_code == 503 and "applied, but NATS has not taken its events" in halted.json()["detail"]
        nc, got, done = await _collect(nats_server.url, refused.correlation_id, "position")
        await bus.js.update_stream(replace(full, max_msgs=-1, discard=DiscardPolicy.OLD))
        await asyncio.wait_for(done.wait(), 15)  # the redelivered proposal flushes the outbox
        await nc.close()

        stored = []
        sub = await bus.js.pull_subscribe(subjects.ALL, stream="AT_EXECUTION")
        for msg in await sub.fetch(100, timeout=5):
            event = decode_event(msg.data)
            if event.correlation_id == refused.correlation_id:
                stored.append(event)
        types = [e.event_type for e in stored]
        assert types[:2] == ["risk_decision", "order_submitted"] and "fill" in types and "position" in types
        assert len({e.event_id for e in stored}) == len(stored) and got == stored[: len(got)]
        assert types.count("risk_decision") == 1 and types.count("fill") == 1
        assert (await svc.client.get("/readyz")).json()["unpublished_events"] == 0
        assert "at_exec_sim_unpublished_events 0.0" in (await svc.client.get("/metrics")).text
        fills = (await svc.client.get("/fills", params={"account_id": "paper-1"})).json()
        assert sorted(x["quantity"] for x in fills) == ["1", "2"]
