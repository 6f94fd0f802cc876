"""A service built on the kit, under a real uvicorn and against a real nats-server.

The toy service consumes one durable; the tests play what an attacker or an operator would:
anonymous and wrong-scope calls, a key rotation, a deleted durable, dev keys in production.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import nats
import pytest
import uvicorn
from fastapi import APIRouter, Depends
from prometheus_client import CollectorRegistry

from at_core import subjects
from at_core.events import Event
from at_core.metrics import MetricCatalog, Metrics
from at_core.runtime.bus import Consumer, Delivery, EventBus
from at_core.runtime.settings import ServiceSettings
from at_core.service_kit import (
    ApiKeyConfigError,
    Principal,
    Readiness,
    Scope,
    ScopeGuard,
    ServiceSpec,
    create_service_app,
    dev_headers,
    read_access,
    require,
)
from at_core.testing import free_port

pytestmark = pytest.mark.integration

OPS_OLD, OPS_NEW = "ops-old-" + "1" * 20, "ops-new-" + "2" * 20


@dataclass
class Toy:
    settings: ServiceSettings
    durable: str
    metrics: Metrics = field(default_factory=lambda: MetricCatalog("toy").build())
    bus: EventBus | None = None
    consumers: list[Consumer] = field(default_factory=list)
    halted: bool = False


async def start(toy: Toy) -> None:
    toy.bus = await EventBus.connect(
        toy.settings.nats_url, service="toy", metrics=toy.metrics, create_consumers=True
    )  # a toy: nobody provisions its durable
    await toy.bus.ensure_streams()

    async def handle(event: Event, delivery: Delivery) -> None:
        return None

    toy.consumers.append(await toy.bus.consume(subjects.SIGNALS, handle, durable=toy.durable))


async def stop(toy: Toy) -> None:
    if toy.bus is not None:
        await toy.bus.close()


async def readiness(toy: Toy) -> Readiness:
    connected = toy.bus is not None and toy.bus.connected
    return Readiness(connected and bool(toy.consumers), {"nats_connected": connected})


def registry(toy: Toy) -> CollectorRegistry:
    return toy.metrics.registry


router = APIRouter()


@router.post("/kill-switch", dependencies=[Depends(require(Scope.OPERATOR))])
async def kill_switch() -> dict[str, str]:
    return {"status": "halted"}


@router.get("/positions", dependencies=[Depends(read_access)])
async def positions() -> list[dict[str, Any]]:
    return []


@router.post("/orders")
async def orders(who: Principal = Depends(require(Scope.TRADER))) -> dict[str, str]:
    return {"by": who.name}


def create_app(settings: ServiceSettings, durable: str) -> Any:
    spec = ServiceSpec(
        name="toy",
        title="at-toy",
        version="0.0.1",
        description="a service built on the kit",
        build=lambda: Toy(settings, durable),
        start=start,
        stop=stop,
        readiness=readiness,
        registry=registry,
        consumers=lambda toy: toy.consumers,
    )
    app = create_service_app(spec, settings)
    app.include_router(router)
    app.add_middleware(ScopeGuard, prefix="/mcp", scope=Scope.AGENT)
    return app


class Running:
    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=10)
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Running:
        self.task = asyncio.create_task(self.server.serve())
        await self.wait_for("/readyz", 200)
        return self

    async def wait_for(self, path: str, status: int, deadline_s: float = 20.0) -> httpx.Response:
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline_s
        last: httpx.Response | None = None
        while loop.time() < end:
            try:
                last = await self.client.get(path)
                if last.status_code == status:
                    return last
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
        raise AssertionError(f"{path} never answered {status}; last: {last and last.text}")

    async def __aexit__(self, *_: object) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task
        await self.client.aclose()


@pytest.fixture
async def toy(nats_url: str, unique_token: str) -> AsyncIterator[Running]:
    async with Running(create_app(ServiceSettings(nats_url=nats_url), f"toy-{unique_token}")) as running:
        yield running


async def test_an_anonymous_state_change_is_refused_401_as_a_problem(toy: Running) -> None:
    resp = await toy.client.post("/kill-switch")
    assert resp.status_code == 401 and resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["reason"] == "bad_api_key" and resp.headers["www-authenticate"].startswith("Bearer")
    wrong = await toy.client.post("/kill-switch", headers={"Authorization": "Bearer not-a-key"})
    assert wrong.status_code == 401
    basic = await toy.client.post("/kill-switch", headers={"Authorization": "Basic ZGV2LW9wZXJhdG9yLWtleQ=="})
    assert basic.status_code == 401


async def test_a_valid_key_of_the_wrong_scope_is_refused_403(toy: Running) -> None:
    for scope in (Scope.TRADER, Scope.AGENT, Scope.VIEWER):
        resp = await toy.client.post("/kill-switch", headers=dev_headers(scope))
        assert (resp.status_code, resp.json()["reason"]) == (403, "insufficient_scope"), scope
    assert (await toy.client.post("/kill-switch", headers=dev_headers(Scope.OPERATOR))).status_code == 200


async def test_the_key_may_come_as_x_api_key_and_names_the_caller_by_fingerprint(toy: Running) -> None:
    resp = await toy.client.post("/orders", headers={"X-API-Key": "dev-api-key"})
    assert resp.status_code == 200 and resp.json()["by"].startswith("api-key:")
    assert "dev-api-key" not in resp.text


async def test_a_mounted_path_is_guarded_before_the_app_sees_it(toy: Running) -> None:
    assert (await toy.client.post("/mcp")).status_code == 401
    assert (await toy.client.post("/mcp", headers=dev_headers(Scope.OPERATOR))).status_code == 403
    assert (await toy.client.post("/mcp", headers=dev_headers(Scope.AGENT))).status_code == 404  # passed the guard
    assert (await toy.client.post("/mcpx")).status_code == 404  # another path: not guarded


async def test_reads_are_open_in_dev_but_a_bad_key_sent_anyway_is_refused(toy: Running) -> None:
    assert (await toy.client.get("/positions")).status_code == 200
    assert (await toy.client.get("/positions", headers={"Authorization": "Bearer wrong"})).status_code == 401


async def test_health_metrics_and_docs_are_served_in_dev(toy: Running) -> None:
    assert (await toy.client.get("/healthz")).json() == {"status": "ok"}
    assert b"nats_connected" in (await toy.client.get("/metrics")).content
    assert (await toy.client.get("/openapi.json")).status_code == 200


async def test_rotated_keys_are_both_valid_and_reads_need_a_key_in_production(nats_url: str, unique_token: str) -> None:
    settings = ServiceSettings(
        nats_url=nats_url, environment="production", api_keys=f"operator:{OPS_OLD},operator:{OPS_NEW}"
    )
    async with Running(create_app(settings, f"toy-{unique_token}")) as prod:
        for key in (OPS_OLD, OPS_NEW):
            resp = await prod.client.post("/kill-switch", headers={"Authorization": f"Bearer {key}"})
            assert resp.status_code == 200, key
        assert (await prod.client.post("/kill-switch", headers=dev_headers(Scope.OPERATOR))).status_code == 401
        assert (await prod.client.get("/positions")).status_code == 401
        assert (await prod.client.get("/positions", headers={"Authorization": f"Bearer {OPS_NEW}"})).status_code == 200
        assert (await prod.client.get("/openapi.json")).status_code == 404
        assert (await prod.client.get("/docs")).status_code == 404


async def test_docs_can_be_turned_on_in_production(nats_url: str) -> None:
    settings = ServiceSettings(
        nats_url=nats_url, environment="production", api_keys=f"operator:{OPS_OLD}", docs_enabled=True
    )
    async with Running(create_app(settings, "toy-docs")) as prod:
        assert (await prod.client.get("/openapi.json")).status_code == 200


def test_production_with_the_dev_keys_refuses_to_start(nats_url: str) -> None:
    with pytest.raises(ApiKeyConfigError, match="production refuses the dev"):
        create_app(ServiceSettings(nats_url=nats_url, environment="production"), "toy-prod")


async def test_deleting_the_durable_turns_readyz_503_and_names_it(toy: Running, nats_url: str) -> None:
    ready = (await toy.client.get("/readyz")).json()
    durable = ready["durables"][0]["durable"]
    assert ready["durables"][0]["state"] == "ok" and ready["durables"][0]["stream"] == "AT_SIGNALS"
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().delete_consumer("AT_SIGNALS", durable)
    finally:
        await nc.close()
    body = (await toy.wait_for("/readyz", 503)).json()
    assert body["ready"] is False and body["durables"][0]["state"] == "missing"
    assert body["nats_connected"] is True  # connected, task running: only JetStream knew


async def test_readyz_is_503_while_the_service_has_not_started(nats_url: str) -> None:
    app = create_app(ServiceSettings(nats_url="nats://127.0.0.1:1", nats_initial_connect_deadline_s=0), "toy-x")
    running = Running(app)
    running.task = asyncio.create_task(running.server.serve())
    try:
        resp = await running.wait_for("/readyz", 503)
        assert resp.json()["ready"] is False
        assert (await running.client.get("/healthz")).status_code == 200
    finally:
        await running.__aexit__()
