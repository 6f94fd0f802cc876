"""TradingView's 3 seconds, always: every answer well inside them with NATS down, frozen or
restarting, and an alert accepted into the outbox stays a duplicate across gateway restarts."""

from __future__ import annotations

import asyncio
import dataclasses
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


def _sample(metrics: str, name: str) -> float:
    """One unlabelled sample of the gateway's /metrics text."""
    return next(float(line.split()[-1]) for line in metrics.splitlines() if line.startswith(f"at_gateway_{name} "))


async def _metrics_until(gw: RunningGateway, name: str, value: float, timeout: float = 20.0) -> float:
    """Scrape until the sample has ``value`` (or the deadline passed); return the last value seen."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        seen = _sample((await gw.client.get("/metrics")).text, name)
        if seen == value or asyncio.get_running_loop().time() > deadline:
            return seen
        await asyncio.sleep(0.05)  # polling a gauge, not waiting for a message


async def test_a_claim_kept_on_disk_is_counted_and_shown_unshared_until_the_bucket_holds_it(
    make_settings, nats_server: NatsServer
) -> None:
    gw = RunningGateway(make_settings())
    nats_server.stop()
    await gw.start(wait_ready=False)
    try:
        accepted = await _post(gw, fixture_body("strategy_alert.json", alert_id="claimed-on-disk"))
        down = (await gw.client.get("/metrics")).text
        nats_server.start()
        unshared_after = await _metrics_until(gw, "dedup_claims_unshared", 0.0)
    finally:
        await gw.stop()
    assert accepted.status_code == 202
    assert _sample(down, "dedup_local_claims_total") == 1.0
    assert _sample(down, "dedup_claims_unshared") == 1.0
    assert unshared_after == 0.0


async def test_two_replicas_that_both_accepted_one_alert_while_nats_was_down_count_a_dedup_conflict(
    make_settings, nats_server: NatsServer, tmp_path
) -> None:
    body = fixture_body("strategy_alert.json", alert_id="accepted-by-both")
    nats_server.stop()
    replicas = [RunningGateway(make_settings(outbox_path=str(tmp_path / f"{n}.sqlite3"))) for n in ("a", "b")]
    for gw in replicas:
        await gw.start(wait_ready=False)
    try:
        answers = [await _post(gw, body) for gw in replicas]
        nats_server.start()
        for gw in replicas:
            await _metrics_until(gw, "dedup_claims_unshared", 0.0)
        conflicts = [_sample((await gw.client.get("/metrics")).text, "dedup_conflicts_total") for gw in replicas]
    finally:
        for gw in replicas:
            await gw.stop()
    assert [a.status_code for a in answers] == [202, 202]  # neither could see the other's claim
    assert sorted(conflicts) == [0.0, 1.0]  # the second to share finds the first's: counted, alerted on


async def test_beyond_the_stream_window_a_repeat_is_stopped_by_the_kv_record(
    make_settings, nats_server: NatsServer, tmp_path
) -> None:
    """dedup_window_s longer than AT_SIGNALS' duplicate window: the KV record is read before publishing."""
    from at_core.runtime.bus.streams import stream_config

    spec = subjects.stream_for_subject(subjects.signal("tradingview", "paper-1", "default", "MES"))
    assert spec is not None
    nc = await nats.connect(nats_server.url)
    try:  # re-provisioned with a 1 s window (a gateway only checks the stream exists: it keeps it)
        await nc.jetstream().update_stream(dataclasses.replace(stream_config(spec), duplicate_window=1.0))
    finally:
        await nc.close()
    body = fixture_body("strategy_alert.json", alert_id="repeated-after-the-stream-window")
    key = dedup_key("tradingview:paper-1/default", "repeated-after-the-stream-window", body.encode())
    one = RunningGateway(make_settings(outbox_path=str(tmp_path / "one.sqlite3")))
    other = RunningGateway(make_settings(outbox_path=str(tmp_path / "other.sqlite3")))
    await one.start()
    await other.start()
    try:
        first = await _post(one, body)
        recorded = await _kv_holds(nats_server.url, key)
        await asyncio.sleep(1.5)  # the stream's window passes: JetStream alone would store the repeat now
        repeat = await _post(other, body)
    finally:
        await one.stop()
        await other.stop()
    assert first.status_code == 202 and recorded == first.json()["event_id"]
    assert repeat.json() == {"status": "duplicate", "event_id": first.json()["event_id"]}
    assert await _signals(nats_server.url) == 1
