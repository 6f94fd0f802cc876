"""Nothing accepted is lost: the outbox carries events through a NATS outage, exactly once."""

from __future__ import annotations

import asyncio

import nats
import pytest
from tests.conftest import SECRET, RunningGateway, fixture_body

from at_core.testing import NatsServer

pytestmark = pytest.mark.integration


async def _signal_count(url: str) -> int:
    nc = await nats.connect(url)
    try:
        return (await nc.jetstream().stream_info("AT_SIGNALS")).state.messages
    finally:
        await nc.close()


async def test_an_alert_accepted_while_nats_is_down_arrives_exactly_once_after_restart(
    make_settings, nats_server: NatsServer
) -> None:
    gw = RunningGateway(make_settings(publish_timeout_s=0.3))
    await gw.start()
    nats_server.stop()
    resp = await gw.client.post(f"/webhooks/tradingview/{SECRET}", content=fixture_body("strategy_alert.json"))
    assert resp.status_code == 202
    ready = (await gw.client.get("/readyz")).json()
    assert ready["outbox_depth"] == 1 and not ready["ready"]
    nats_server.start()
    for _ in range(200):
        if (await gw.client.get("/readyz")).json()["outbox_depth"] == 0:
            break
        await asyncio.sleep(0.05)
    assert await _signal_count(nats_server.url) == 1
    await gw.stop()


async def test_the_outbox_survives_a_gateway_that_dies_after_answering(make_settings, nats_server: NatsServer) -> None:
    settings = make_settings(publish_timeout_s=0.3)
    gw = RunningGateway(settings)
    await gw.start()
    nats_server.stop()
    resp = await gw.client.post(f"/webhooks/tradingview/{SECRET}", content=fixture_body("strategy_alert.json"))
    assert resp.status_code == 202
    gw.server.force_exit = True  # the process goes away with the event only on disk
    await gw.stop()
    nats_server.start()
    again = RunningGateway(settings.model_copy(update={"port": settings.port}))
    await again.start()
    for _ in range(200):
        if (await again.client.get("/readyz")).json()["outbox_depth"] == 0:
            break
        await asyncio.sleep(0.05)
    assert await _signal_count(nats_server.url) == 1
    await again.stop()
