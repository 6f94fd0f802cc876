"""The edges of the webhook path: rotation, the KV record across replicas, streamed bodies,
dead letters for unknown paths, per-route limits, keyed market data, request metrics."""

from __future__ import annotations

import pytest
from tests.conftest import SECRET, RunningGateway, dead_letters, fixture_body

pytestmark = pytest.mark.integration


async def test_either_of_two_rotated_secrets_is_accepted_and_a_third_is_not(make_settings) -> None:
    gw = RunningGateway(make_settings(webhook_secrets="old-secret,new-secret"))
    await gw.start()
    try:
        codes = [
            (
                await gw.client.post(f"/webhooks/tradingview/{s}", content=fixture_body("strategy_alert.json"))
            ).status_code
            for s in ("old-secret", "new-secret", SECRET)
        ]
    finally:
        await gw.stop()
    assert codes == [202, 202, 401]


async def test_a_second_gateway_recognises_a_duplicate_through_jetstreams_message_id(make_settings, tmp_path) -> None:
    first = RunningGateway(make_settings(outbox_path=str(tmp_path / "a.sqlite3")))
    second = RunningGateway(make_settings(outbox_path=str(tmp_path / "b.sqlite3")))
    await first.start()
    await second.start()
    body = fixture_body("strategy_alert.json", alert_id="shared-alert")
    try:
        original = await first.client.post(f"/webhooks/tradingview/{SECRET}", content=body)
        repeat = await second.client.post(f"/webhooks/tradingview/{SECRET}", content=body)
    finally:
        await first.stop()
        await second.stop()
    assert original.status_code == 202
    assert repeat.status_code == 200
    assert repeat.json() == {"status": "duplicate", "event_id": original.json()["event_id"]}


async def test_a_streamed_body_without_a_length_is_cut_off_at_the_cap(make_settings) -> None:
    gw = RunningGateway(make_settings(max_body_bytes=1024))
    await gw.start()

    async def chunks():
        for _ in range(4):
            yield b"x" * 512

    try:
        resp = await gw.client.post(f"/webhooks/tradingview/{SECRET}", content=chunks())
    finally:
        await gw.stop()
    assert resp.status_code == 413 and resp.json()["reason"] == "too_large"


async def test_an_unknown_path_is_dead_lettered_without_the_secret_it_carries(gateway: RunningGateway) -> None:
    resp = await gateway.client.post(f"/webhooks/tradingview/{SECRET}/extra", content="{}")
    assert resp.status_code == 404
    events = await dead_letters(gateway.settings.nats_url)
    dead = next(e for e in events if e.event_type == "rejected_input")
    assert dead.status_code == 404 and dead.reason == "not_found"
    assert SECRET not in dead.route and dead.route.endswith("/***/extra")


async def test_the_per_route_limit_counts_every_source_together(make_settings) -> None:
    # Three different clients behind a trusted proxy: each is far under the per-source limit.
    gw = RunningGateway(make_settings(route_rate_limit_per_minute=2, trusted_proxies="127.0.0.1"))
    await gw.start()
    try:
        answers = [
            await gw.client.post(
                f"/webhooks/tradingview/{SECRET}",
                content=fixture_body("strategy_alert.json"),
                headers={"x-forwarded-for": source},
            )
            for source in ("198.51.100.1", "198.51.100.2", "198.51.100.3")
        ]
        other_route = await gw.client.post(
            "/webhooks/pinescript",
            content=fixture_body("strategy_alert.json").replace('"alert_id"', f'"passphrase": "{SECRET}", "alert_id"'),
            headers={"x-forwarded-for": "198.51.100.3"},
        )
    finally:
        await gw.stop()
    assert [a.status_code for a in answers] == [202, 202, 429]
    assert answers[2].json()["reason"] == "rate_limited"
    assert answers[2].json()["detail"] == "more than 2 requests/minute on /webhooks/tradingview/{token}"
    assert other_route.status_code == 202


async def test_market_data_needs_the_api_key_when_configured_to(make_settings) -> None:
    gw = RunningGateway(make_settings(market_data_api_key_required=True))
    await gw.start()
    batch = {"items": [{"kind": "quote", "symbol": "MES1!", "bid": "6012", "ask": "6012.25"}]}
    try:
        without = await gw.client.post("/ingest/market-data", json=batch)
        with_key = await gw.client.post("/ingest/market-data", json=batch, headers={"x-api-key": "dev-api-key"})
    finally:
        await gw.stop()
    assert (without.status_code, without.json()["reason"]) == (401, "bad_api_key")
    assert with_key.status_code == 202


async def test_requests_are_counted_by_route_template_never_by_the_secret_in_the_path(
    gateway: RunningGateway,
) -> None:
    await gateway.client.post(f"/webhooks/tradingview/{SECRET}", content=fixture_body("strategy_alert.json"))
    metrics = (await gateway.client.get("/metrics")).text
    assert 'at_gateway_http_requests_total{route="/webhooks/tradingview/{token}",status="202"} 1.0' in metrics
    assert SECRET not in metrics
    assert 'at_gateway_alerts_last_3m{route="paper-1/' in metrics
    assert (
        'at_gateway_receive_to_durable_seconds_count{route="/webhooks/tradingview/{token}",sink="jetstream"} 1.0'
        in (metrics)
    )
