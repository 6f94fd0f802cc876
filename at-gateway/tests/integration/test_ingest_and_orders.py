"""Market data, screenshots, manual orders and health, against a real gateway and nats-server."""

from __future__ import annotations

import nats
import pytest
from tests.conftest import RunningGateway

from at_core import subjects

pytestmark = pytest.mark.integration
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def test_market_data_batches_become_market_data_events(gateway: RunningGateway, tap) -> None:
    items = [
        {"kind": "quote", "symbol": "MES1!", "bid": "6012", "ask": "6012.25"},
        {"kind": "bar", "symbol": "OANDA:EURUSD", "open": "1.08", "high": "1.09", "low": "1.07", "close": "1.085"},
        {"kind": "trade", "symbol": "BINANCE:BTCUSDT", "price": "97000", "size": "0.5", "aggressor": "buy"},
    ]
    resp = await gateway.client.post("/ingest/market-data", json={"items": items})
    assert resp.status_code == 202 and resp.json()["count"] == 3
    events = await tap.wait_for(lambda es: len([e for e in es if e.event_type == "market_data"]) == 3)
    kinds = {e.data.kind for e in events if e.event_type == "market_data"}
    assert kinds == {"quote", "bar", "trade"}


async def test_a_crossed_quote_is_refused_with_its_path(gateway: RunningGateway) -> None:
    resp = await gateway.client.post(
        "/ingest/market-data", json={"items": [{"kind": "quote", "symbol": "MES1!", "bid": "2", "ask": "1"}]}
    )
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["loc"][:2] == ["items", 0]


async def test_a_screenshot_is_stored_in_the_object_store_and_announced(
    gateway: RunningGateway, tap, nats_server
) -> None:
    resp = await gateway.client.post(
        "/ingest/screenshot?symbol=MES1!&interval=5",
        content=PNG,
        headers={"content-type": "image/png", "x-api-key": "dev-api-key"},
    )
    assert resp.status_code == 202, resp.text
    events = await tap.wait_for(lambda es: any(e.event_type == "chart_snapshot" for e in es))
    snap = next(e for e in events if e.event_type == "chart_snapshot")
    nc = await nats.connect(nats_server.url)
    store = await nc.jetstream().object_store(subjects.OBJECT_STORE_CHARTS)
    assert (await store.get(snap.object_name)).data == PNG
    await nc.close()


async def test_a_screenshot_whose_bytes_are_not_an_image_is_refused_whatever_its_type_says(
    gateway: RunningGateway,
) -> None:
    resp = await gateway.client.post(
        "/ingest/screenshot?symbol=MES1!",
        content=b"GIF89a....",
        headers={"content-type": "image/png", "x-api-key": "dev-api-key"},
    )
    assert resp.status_code == 415


async def test_manual_orders_need_the_api_key_and_become_execution_requests(gateway: RunningGateway, tap) -> None:
    order = {
        "account_id": "paper-1",
        "symbol": "MES1!",
        "side": "buy",
        "quantity": "1",
        "order_type": "limit",
        "limit_price": "6000",
    }
    refused = await gateway.client.post("/orders", json=order, headers={"x-api-key": "dev-webhook-secret"})
    assert refused.status_code == 401
    resp = await gateway.client.post("/orders", json=order, headers={"x-api-key": "dev-api-key"})
    assert resp.status_code == 202
    events = await tap.wait_for(lambda es: any(e.event_type == "execution_request" for e in es))
    request = next(e for e in events if e.event_type == "execution_request")
    assert request.order.limit_price == 6000 and request.requested_by.startswith("api-key:")


async def test_an_order_without_its_limit_price_is_refused_with_a_reason(gateway: RunningGateway) -> None:
    resp = await gateway.client.post(
        "/orders",
        json={"account_id": "paper-1", "symbol": "MES1!", "side": "buy", "quantity": "1", "order_type": "limit"},
        headers={"x-api-key": "dev-api-key"},
    )
    assert resp.status_code == 422 and "limit_price" in resp.text


async def test_health_readiness_and_metrics(gateway: RunningGateway) -> None:
    assert (await gateway.client.get("/healthz")).json() == {"status": "ok"}
    ready = (await gateway.client.get("/readyz")).json()
    assert ready == {"ready": True, "nats_connected": True, "streams": True, "outbox_depth": 0}
    assert "at_gateway_outbox_depth 0.0" in (await gateway.client.get("/metrics")).text


async def test_a_manual_order_carries_its_bracket_and_a_wrong_side_stop_is_a_422(gateway: RunningGateway, tap) -> None:
    order = {
        "account_id": "paper-1",
        "symbol": "MES1!",
        "side": "buy",
        "quantity": "1",
        "order_type": "limit",
        "limit_price": "6000",
        "bracket": {"stop_loss": {"value": "8", "unit": "ticks"}, "take_profit": {"value": "6012"}},
    }
    headers = {"x-api-key": "dev-api-key"}
    assert (await gateway.client.post("/orders", json=order, headers=headers)).status_code == 202
    events = await tap.wait_for(lambda es: any(e.event_type == "execution_request" for e in es))
    request = next(e for e in events if e.event_type == "execution_request")
    assert request.order.bracket.take_profit.value == 6012
    wrong = {**order, "bracket": {"stop_loss": {"value": "6001"}}}
    resp = await gateway.client.post("/orders", json=wrong, headers=headers)
    assert resp.status_code == 422 and "below the entry" in resp.text
