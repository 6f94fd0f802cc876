"""/readyz tells the truth: a deleted durable stops trading, so exec-sim must say it is not ready."""

from __future__ import annotations

import asyncio

import nats
import pytest
from tests.integration.test_control_auth import Running

from at_exec_sim.config import ExecSimSettings

pytestmark = pytest.mark.integration


async def _readyz_until(running: Running, status: int) -> dict:
    for _ in range(200):  # readiness, polled with a bound
        resp = await running.client.get("/readyz")
        if resp.status_code == status:
            return resp.json()
        await asyncio.sleep(0.05)
    raise AssertionError(f"/readyz never answered {status}")


async def test_deleting_the_proposals_durable_turns_readyz_503_naming_it(nats_url: str) -> None:
    async with Running(ExecSimSettings(nats_url=nats_url)) as svc:
        ready = await _readyz_until(svc, 200)
        durables = {d["durable"]: d for d in ready["durables"]}
        proposals = next(name for name in durables if name.endswith("-proposals"))
        assert {d["state"] for d in durables.values()} == {"ok"} and len(durables) == 3
        nc = await nats.connect(nats_url)
        try:
            await nc.jetstream().delete_consumer(durables[proposals]["stream"], proposals)
        finally:
            await nc.close()
        body = await _readyz_until(svc, 503)
        states = {d["durable"]: d["state"] for d in body["durables"]}
        assert states[proposals] == "missing" and body["nats_connected"] is True
        assert sorted(states.values()) == ["missing", "ok", "ok"]
