"""TradingView's 3 seconds, always: every answer well inside them with NATS down, frozen or
restarting, and an alert accepted into the outbox stays a duplicate across gateway restarts."""

from __future__ import annotations

import asyncio
import os
import signal

import httpx
import nats
import pytest
from tests.conftest import SECRET, RunningGateway, fixture_body

from at_core.testing import NatsServer

pytestmark = pytest.mark.integration
#: A client that gives up as TradingView would, with a margin: an answer after this is a lost alert.
TRADINGVIEW_PATIENCE_S = 2.5


async def _post(gw: RunningGateway, body: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gw.client.base_url, timeout=TRADINGVIEW_PATIENCE_S) as client:
        return await client.post(f"/webhooks/tradingview/{SECRET}", content=body)


async def test_with_nats_down_an_alert_is_answered_from_the_outbox_in_time(
    make_settings, nats_server: NatsServer
) -> None:
    gw = RunningGateway(make_settings())
    await gw.start()
    try:
        nats_server.stop()
        answers = [await _post(gw, fixture_body("strategy_alert.json")) for _ in range(3)]
        refusal = await _post(gw, '{"ticker": "ES1!"}')  # its dead letter cannot be kept: answered anyway
    finally:
        await gw.stop()
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert refusal.status_code == 422


async def test_with_nats_frozen_an_alert_is_answered_in_time(make_settings, nats_server: NatsServer) -> None:
    # SIGSTOP: the connection stays open and nothing answers (a server stalled on disk, say)
    gw = RunningGateway(make_settings())
    await gw.start()
    pid = nats_server._proc.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        answer = await _post(gw, fixture_body("strategy_alert.json"))
    finally:
        os.kill(pid, signal.SIGCONT)
        await gw.stop()
    assert answer.status_code == 202


async def _signals(url: str) -> int:
    nc = await nats.connect(url)
    try:
        return (await nc.jetstream().stream_info("AT_SIGNALS")).state.messages
    finally:
        await nc.close()


async def test_an_alert_accepted_into_the_outbox_is_a_duplicate_after_a_restart(
    make_settings, nats_server: NatsServer
) -> None:
    settings = make_settings()
    body = fixture_body("strategy_alert.json", alert_id="accepted-while-down")
    nats_server.stop()
    first_gw = RunningGateway(settings)
    await first_gw.start(wait_ready=False)
    try:
        first = await _post(first_gw, body)
    finally:
        await first_gw.stop()
    again = RunningGateway(settings)  # a restart, NATS still down
    await again.start(wait_ready=False)
    try:
        repeat_down = await _post(again, body)
    finally:
        await again.stop()
    nats_server.start()
    last = RunningGateway(settings)  # a restart once NATS is back, before or after the outbox drained
    await last.start()
    try:
        repeat_up = await _post(last, body)
        for _ in range(200):
            if (await last.client.get("/readyz")).json()["outbox_depth"] == 0:
                break
            await asyncio.sleep(0.05)
        stored = await _signals(nats_server.url)
    finally:
        await last.stop()
    assert first.status_code == 202
    assert repeat_down.json() == {"status": "duplicate", "event_id": first.json()["event_id"]}
    assert repeat_up.json() == {"status": "duplicate", "event_id": first.json()["event_id"]}
    assert stored == 1
