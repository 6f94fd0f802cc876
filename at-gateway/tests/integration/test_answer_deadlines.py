"""TradingView's 3 seconds, always: every answer well inside them with NATS down, frozen or
restarting, and an alert accepted into the outbox stays a duplicate across gateway restarts."""

from __future__ import annotations

import asyncio
import os
import signal

import httpx
import nats
import pytest
from nats.js.errors import BucketNotFoundError, KeyNotFoundError
from tests.conftest import SECRET, RunningGateway, fixture_body

from at_core import subjects
from at_core.testing import NatsServer
from at_gateway.adapters.dedup import dedup_key

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


async def _kv_holds(url: str, key: str, timeout: float = 20.0) -> str:
    """The event id the shared dedup bucket holds for ``key``, awaited with a deadline."""
    nc = await nats.connect(url)
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                kv = await nc.jetstream().key_value(subjects.KV_BUCKET_DEDUP)
                return (await kv.get(key)).value.decode()
            except (BucketNotFoundError, KeyNotFoundError):
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.05)  # polling the bucket, not waiting for a message
    finally:
        await nc.close()


async def test_a_claim_made_while_nats_was_down_reaches_the_other_replicas_once_it_is_back(
    make_settings, nats_server: NatsServer, tmp_path
) -> None:
    body = fixture_body("strategy_alert.json", alert_id="seen-by-one-replica")
    key = dedup_key("tradingview:paper-1/default", "seen-by-one-replica", body.encode())
    one = RunningGateway(make_settings(outbox_path=str(tmp_path / "one.sqlite3")))
    nats_server.stop()  # from the start: the gateway has no bucket at all, only its disk
    await one.start(wait_ready=False)
    try:
        first = await _post(one, body)
        nats_server.start()
        shared = await _kv_holds(nats_server.url, key)
        other = RunningGateway(make_settings(outbox_path=str(tmp_path / "other.sqlite3")))
        await other.start()
        try:
            repeat = await _post(other, body)
        finally:
            await other.stop()
    finally:
        await one.stop()
    assert first.status_code == 202 and shared == first.json()["event_id"]
    assert repeat.json() == {"status": "duplicate", "event_id": first.json()["event_id"]}
