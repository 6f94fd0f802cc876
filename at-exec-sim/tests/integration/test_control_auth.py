"""The control plane needs keys: exec-sim under a real uvicorn against a real nats-server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

from at_core.service_kit import ApiKeyConfigError, Scope, dev_headers
from at_core.testing import free_port
from at_exec_sim.config import ExecSimSettings
from at_exec_sim.main import create_app

pytestmark = pytest.mark.integration

OPS_OLD, OPS_NEW, VIEW = "ops-2025-" + "a" * 20, "ops-2026-" + "b" * 20, "view-" + "c" * 20


class Running:
    def __init__(self, settings: ExecSimSettings) -> None:
        self.port = free_port()
        app = create_app(settings.model_copy(update={"port": self.port}))
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=10)

    async def __aenter__(self) -> Running:
        self.task = asyncio.create_task(self.server.serve())
        for _ in range(400):  # readiness, polled with a bound
            try:
                if (await self.client.get("/readyz", headers=dev_headers(Scope.VIEWER))).status_code == 200:
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
async def dev(nats_url: str) -> AsyncIterator[Running]:
    async with Running(ExecSimSettings(nats_url=nats_url)) as running:
        yield running


async def _state(client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> str:
    accounts = (await client.get("/account", params={"account_id": "paper-1"}, headers=headers)).json()
    return str(accounts[0]["trading_state"])


async def test_an_anonymous_kill_switch_or_resume_is_refused_401_and_changes_nothing(dev: Running) -> None:
    for path, body in (("/kill-switch", {"flatten": True}), ("/resume", {"account_id": "paper-1"})):
        resp = await dev.client.post(path, json=body)
        assert resp.status_code == 401 and resp.headers["content-type"] == "application/problem+json"
        assert resp.json()["reason"] == "bad_api_key"
    assert await _state(dev.client) == "active"


async def test_a_trader_agent_or_viewer_key_cannot_halt(dev: Running) -> None:
    for scope in (Scope.TRADER, Scope.AGENT, Scope.VIEWER):
        resp = await dev.client.post("/kill-switch", json={}, headers=dev_headers(scope))
        assert (resp.status_code, resp.json()["reason"]) == (403, "insufficient_scope")
    assert await _state(dev.client) == "active"


async def test_the_operator_key_halts_and_resumes(dev: Running) -> None:
    ops = dev_headers(Scope.OPERATOR)
    assert (await dev.client.post("/kill-switch", json={"account_id": "paper-1"}, headers=ops)).status_code == 200
    assert await _state(dev.client) == "halted"
    assert (await dev.client.post("/resume", json={"account_id": "paper-1"}, headers=ops)).status_code == 200


async def test_in_production_both_rotated_operator_keys_work_and_reads_need_a_key(nats_url: str) -> None:
    keys = f"operator:{OPS_OLD},operator:{OPS_NEW},viewer:{VIEW}"
    async with Running(ExecSimSettings(nats_url=nats_url, environment="production", api_keys=keys)) as prod:
        for key in (OPS_OLD, OPS_NEW):
            halt = await prod.client.post(
                "/kill-switch", json={"account_id": "paper-1"}, headers={"Authorization": f"Bearer {key}"}
            )
            assert halt.status_code == 200, key
        for path in ("/positions", "/orders", "/fills", "/account", "/venues"):
            assert (await prod.client.get(path)).status_code == 401, path
        assert await _state(prod.client, {"Authorization": f"Bearer {VIEW}"}) == "halted"
        assert (await prod.client.get("/openapi.json")).status_code == 404
        assert (await prod.client.get("/healthz")).status_code == 200


def test_production_with_the_dev_keys_refuses_to_start() -> None:
    with pytest.raises(ApiKeyConfigError, match="production refuses the dev"):
        create_app(ExecSimSettings(environment="production"))
