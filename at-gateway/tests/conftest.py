"""A real gateway (uvicorn on a free port) in front of a real nats-server, per test."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import nats
import pytest
import uvicorn

from at_core import subjects
from at_core.serialization import decode_event
from at_core.testing import NatsServer, free_port
from at_gateway.config import GatewaySettings
from at_gateway.main import create_app
from at_gateway.server import Implementation, http_protocol

FIXTURES = Path(__file__).parent / "fixtures"
SECRET = "dev-webhook-secret"


def fixture_body(name: str, alert_id: str | None = None, time: str | None = None) -> str:
    text = (FIXTURES / name).read_text()
    return text.replace("{{ALERT_ID}}", alert_id or uuid.uuid4().hex).replace(
        "{{TIME}}", time or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    )


class RunningGateway:
    def __init__(self, settings: GatewaySettings, http: Implementation = "auto") -> None:
        self.settings = settings
        self.port = settings.port
        self.server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings),
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
                lifespan="on",
                proxy_headers=False,
                http=http_protocol(settings, http),
                **settings.server_options(),
            )
        )
        self.task: asyncio.Task | None = None
        self.client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=10)

    async def start(self, wait_ready: bool = True) -> None:
        self.task = asyncio.create_task(self.server.serve())
        deadline = asyncio.get_running_loop().time() + 20
        while asyncio.get_running_loop().time() < deadline:
            try:
                r = await self.client.get("/readyz" if wait_ready else "/healthz")
                if r.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
        raise RuntimeError("gateway did not become ready")

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task:
            await self.task
        await self.client.aclose()


@pytest.fixture
def make_settings(nats_server: NatsServer, tmp_path: Path):
    def _make(**overrides) -> GatewaySettings:
        base = {
            "nats_url": nats_server.url,
            "port": free_port(),
            "outbox_path": str(tmp_path / "outbox.sqlite3"),
            "nats_initial_connect_deadline_s": 0.5,
        }
        return GatewaySettings(**(base | overrides))

    return _make


@pytest.fixture
async def gateway(make_settings) -> AsyncIterator[RunningGateway]:
    gw = RunningGateway(make_settings())
    await gw.start()
    yield gw
    await gw.stop()


class BusTap:
    """Everything published under ``at.>``, decoded, awaitable by predicate."""

    def __init__(self) -> None:
        self.events: list = []
        self.raw: list = []
        self._cond = asyncio.Condition()

    async def on_msg(self, msg) -> None:
        async with self._cond:
            self.raw.append(msg)
            self.events.append(decode_event(msg.data))
            self._cond.notify_all()

    async def wait_for(self, predicate, timeout: float = 10.0) -> list:
        async with self._cond:
            await asyncio.wait_for(self._cond.wait_for(lambda: predicate(self.events)), timeout)
            return list(self.events)


@pytest.fixture
async def tap(nats_server: NatsServer) -> AsyncIterator[BusTap]:
    nc = await nats.connect(nats_server.url)
    t = BusTap()
    await nc.subscribe(subjects.ALL, cb=t.on_msg)
    # SUB is only queued client-side; a PING/PONG round trip means the server has registered it, so a
    # message the gateway publishes next (on its own connection) cannot arrive before the subscription.
    await nc.flush()
    yield t
    await nc.drain()


async def dead_letters(nats_url: str, timeout: float = 10.0) -> list:
    """The events AT_DEAD_LETTERS holds (the durable record an operator inspects), awaited with a
    deadline until there is one. Read from the stream, not a core tap: what matters is what was kept."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        deadline = asyncio.get_running_loop().time() + timeout
        while not (stored := (await js.stream_info("AT_DEAD_LETTERS")).state.messages):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("nothing was dead-lettered")
            await asyncio.sleep(0.05)
        sub = await js.pull_subscribe(subjects.DEAD_LETTERS, stream="AT_DEAD_LETTERS")
        return [decode_event(m.data) for m in await sub.fetch(stored, timeout=5)]
    finally:
        await nc.close()


def as_json(text: str) -> dict:
    return json.loads(text)
