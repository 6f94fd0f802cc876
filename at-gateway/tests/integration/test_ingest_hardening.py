"""Ingest that nothing can stall or crash: hostile bodies, floods and slow clients against a real
gateway (uvicorn) and a real nats-server. Each of these answered 500, hung, or was stored on main."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from tests.conftest import SECRET, RunningGateway, fixture_body

pytestmark = pytest.mark.integration
TV_IP = "52.89.214.238"  # one of TradingView's addresses (the default allowlist)


async def _dead_letter_count(url: str) -> int:
    import nats

    nc = await nats.connect(url)
    try:
        return (await nc.jetstream().stream_info("AT_DEAD_LETTERS")).state.messages
    finally:
        await nc.close()


async def test_a_mebibyte_of_newlines_is_refused_and_redacted_without_stalling_the_gateway(
    make_settings,
) -> None:
    # On main the redaction regex was quadratic: 32 KB of newlines froze the event loop for 22 s.
    gw = RunningGateway(make_settings())
    await gw.start()
    try:
        async with httpx.AsyncClient(base_url=gw.client.base_url, timeout=10) as client:
            resp = await client.post(
                "/ingest/market-data", content=b"\n" * (1024 * 1024), headers={"content-type": "application/json"}
            )
            health = await client.get("/healthz")
    finally:
        await gw.stop()
    assert resp.status_code == 422 and resp.json()["reason"] == "invalid"
    assert health.status_code == 200


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        (f"/webhooks/tradingview/{SECRET}", {}),
        ("/ingest/market-data", {"content-type": "application/json"}),
        ("/orders", {"content-type": "application/json", "x-api-key": "dev-api-key"}),
    ],
)
async def test_json_nested_thirty_thousand_deep_answers_422_too_deep(gateway: RunningGateway, path, headers) -> None:
    body = '{"items": ' + "[" * 30_000 + "]" * 30_000 + "}"
    resp = await gateway.client.post(path, content=body, headers=headers)
    assert (resp.status_code, resp.json()["reason"]) == (422, "too_deep")


async def test_a_quantity_of_1e999999999_answers_422_not_500(gateway: RunningGateway) -> None:
    as_number = await gateway.client.post(
        f"/webhooks/tradingview/{SECRET}", content='{"ticker": "ES1!", "action": "buy", "contracts": 1e999999999}'
    )
    as_text = await gateway.client.post(
        f"/webhooks/tradingview/{SECRET}", content='{"ticker": "ES1!", "action": "buy", "contracts": "1e999999999"}'
    )
    assert (as_number.status_code, as_number.json()["reason"]) == (422, "number_out_of_range")
    assert as_text.status_code == 422 and as_text.json()["errors"][0]["loc"] == ["contracts"]


async def test_a_strategy_id_over_128_characters_answers_422_with_its_path(gateway: RunningGateway) -> None:
    alert = json.loads(fixture_body("strategy_alert.json")) | {"strategy_id": "s" * 129}
    webhook = await gateway.client.post(f"/webhooks/tradingview/{SECRET}", json=alert)
    order = await gateway.client.post(
        "/orders",
        json={"account_id": "paper-1", "symbol": "MES1!", "side": "buy", "quantity": "1", "strategy_id": "s" * 129},
        headers={"x-api-key": "dev-api-key"},
    )
    assert webhook.status_code == 422 and webhook.json()["errors"] == [
        {"loc": ["strategy_id"], "msg": "at most 128 characters"}
    ]
    assert order.status_code == 422 and order.json()["errors"][0]["loc"] == ["strategy_id"]


@pytest.mark.parametrize(
    ("fields", "msg"),
    [
        ({"action": "buy", "contracts": "0"}, "must be positive"),
        ({"action": "exit", "contracts": "-2"}, "must be positive"),
        ({"action": "buy", "contracts": "21"}, "above the maximum of 20 for MES"),  # the listed month's id
    ],
)
async def test_a_quantity_zero_negative_or_above_the_maximum_answers_422_never_capped(
    make_settings, fields, msg
) -> None:
    gw = RunningGateway(make_settings(max_quantity_per_instrument={"MES.CME": "20"}))
    await gw.start()
    try:
        resp = await gw.client.post(
            f"/webhooks/tradingview/{SECRET}", json={"ticker": "MES1!", "exchange": "CME_MINI"} | fields
        )
    finally:
        await gw.stop()
    (error,) = resp.json()["errors"]
    assert resp.status_code == 422 and error["loc"] == ["quantity"] and error["msg"].startswith(msg)


async def test_an_order_for_1e30_contracts_answers_422(gateway: RunningGateway) -> None:
    resp = await gateway.client.post(
        "/orders",
        json={"account_id": "paper-1", "symbol": "MES1!", "side": "buy", "quantity": "1e30"},
        headers={"x-api-key": "dev-api-key"},
    )
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["quantity"]


async def test_a_flood_of_unknown_paths_is_rate_limited_and_stops_being_stored(make_settings) -> None:
    gw = RunningGateway(make_settings(refusals_per_source_per_minute=5))
    await gw.start()
    try:
        codes = [(await gw.client.post(f"/nowhere/{i}", content="{}")).status_code for i in range(20)]
        bad_secret = await gw.client.post("/webhooks/tradingview/wrong", content=fixture_body("strategy_alert.json"))
        kept = await _dead_letter_count(gw.settings.nats_url)
        metrics = (await gw.client.get("/metrics")).text
    finally:
        await gw.stop()
    assert codes == [404] * 5 + [429] * 15
    assert (bad_secret.status_code, bad_secret.json()["reason"]) == (429, "rate_limited")
    assert kept == 5
    assert "/nowhere/" not in metrics  # unknown paths share one label: a flood cannot mint series
    assert 'at_gateway_rejected_total{reason="rate_limited",route="unmatched"} 15.0' in metrics


async def test_the_dead_letters_the_gateway_publishes_are_bounded_for_all_sources_together(make_settings) -> None:
    gw = RunningGateway(make_settings(dead_letters_per_minute=3, trusted_proxies="127.0.0.1"))
    await gw.start()
    try:
        for i in range(10):  # ten sources, each well under its own refusal budget
            await gw.client.post("/nowhere", content="{}", headers={"x-forwarded-for": f"198.51.100.{i}"})
        kept = await _dead_letter_count(gw.settings.nats_url)
    finally:
        await gw.stop()
    assert kept == 3


async def test_a_flood_refused_by_the_allowlist_does_not_use_up_the_route_limit(make_settings) -> None:
    gw = RunningGateway(
        make_settings(allowlist_enabled=True, trusted_proxies="127.0.0.1", route_rate_limit_per_minute=3)
    )
    await gw.start()
    path = f"/webhooks/tradingview/{SECRET}"
    try:
        flood = [
            (await gw.client.post(path, content="{}", headers={"x-forwarded-for": "203.0.113.9"})).status_code
            for _ in range(10)
        ]
        tradingview = await gw.client.post(
            path, content=fixture_body("strategy_alert.json"), headers={"x-forwarded-for": TV_IP}
        )
    finally:
        await gw.stop()
    assert set(flood) == {403}
    assert tradingview.status_code == 202


async def test_every_forwarded_for_line_is_read_right_to_left_through_the_trusted_proxies(make_settings) -> None:
    # The client wrote the first line (a TradingView address); the proxy appended its own line with
    # the address it really saw. Reading only the first line let the client through the allowlist.
    gw = RunningGateway(make_settings(allowlist_enabled=True, trusted_proxies="127.0.0.1,10.0.0.0/8"))
    await gw.start()
    try:
        forged = await gw.client.post(
            f"/webhooks/tradingview/{SECRET}",
            content=fixture_body("strategy_alert.json"),
            headers=[("x-forwarded-for", TV_IP), ("x-forwarded-for", "203.0.113.9, 10.1.2.3")],
        )
        real = await gw.client.post(
            f"/webhooks/tradingview/{SECRET}",
            content=fixture_body("strategy_alert.json"),
            headers=[("x-forwarded-for", "203.0.113.9"), ("x-forwarded-for", f"{TV_IP}, 10.1.2.3")],
        )
    finally:
        await gw.stop()
    assert (forged.status_code, forged.json()["reason"]) == (403, "address_not_allowed")
    assert real.status_code == 202


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """What the server sent before closing the connection, awaited with a deadline."""
    return await asyncio.wait_for(reader.read(), seconds)


@pytest.mark.parametrize("http", ["httptools", "h11"])  # uvicorn's two HTTP/1.1 parsers: both hold the bound
async def test_a_client_that_never_finishes_its_headers_is_disconnected(make_settings, http) -> None:
    gw = RunningGateway(make_settings(http_read_timeout_s=0.5), http)
    await gw.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        writer.write(b"POST /webhooks/tradingview HTTP/1.1\r\nHost: x\r\n")  # and nothing more
        await writer.drain()
        assert await _closed_within(reader, 5) == b""
        writer.close()
    finally:
        await gw.stop()


@pytest.mark.parametrize("http", ["httptools", "h11"])
async def test_a_kept_alive_connection_whose_next_request_trickles_in_is_disconnected(make_settings, http) -> None:
    # The first request is answered; the second never finishes its headers: the bound starts again
    # at its first byte (uvicorn's keep-alive timer stops at that byte and never restarts).
    gw = RunningGateway(make_settings(http_read_timeout_s=0.5, http_keep_alive_timeout_s=30), http)
    await gw.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.write(b"GET /healthz HTTP/1.1\r\nHo")
        await writer.drain()
        rest = await _closed_within(reader, 5)
        writer.close()
    finally:
        await gw.stop()
    assert first.startswith(b"HTTP/1.1 200")
    assert b"HTTP/1.1" not in rest  # cut off, never answered


@pytest.mark.parametrize("http", ["httptools", "h11"])
async def test_a_body_that_trickles_in_is_cut_off_with_408(make_settings, http) -> None:
    gw = RunningGateway(make_settings(http_read_timeout_s=0.5), http)
    await gw.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        writer.write(
            f"POST /webhooks/tradingview/{SECRET} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{{".encode()
        )
        await writer.drain()
        answer = await asyncio.wait_for(reader.readline(), 5)
        writer.close()
    finally:
        await gw.stop()
    assert answer.startswith(b"HTTP/1.1 408")


async def test_an_idle_keep_alive_connection_is_closed_after_the_configured_timeout(make_settings) -> None:
    gw = RunningGateway(make_settings(http_keep_alive_timeout_s=0.3))
    await gw.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        answer = await _closed_within(reader, 3)
        writer.close()
    finally:
        await gw.stop()
    assert answer.startswith(b"HTTP/1.1 200")
