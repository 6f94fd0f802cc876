"""Orders and market data need a trader key (at-core's service kit), under a real uvicorn and nats-server."""

from __future__ import annotations

import pytest
from tests.conftest import RunningGateway

from at_core.service_kit import ApiKeyConfigError, Scope, dev_headers
from at_gateway.config import GatewaySettings
from at_gateway.main import create_app

pytestmark = pytest.mark.integration

ORDER = {"account_id": "paper-1", "symbol": "MES1!", "side": "buy", "quantity": "1"}
BATCH = {"items": [{"kind": "quote", "symbol": "MES1!", "bid": "6000", "ask": "6000.25"}]}
TV_OLD, TV_NEW, OPS = "tv-2025-" + "a" * 20, "tv-2026-" + "b" * 20, "ops-" + "c" * 20


async def test_an_anonymous_order_is_refused_401_as_a_problem_and_counted(gateway: RunningGateway) -> None:
    resp = await gateway.client.post("/orders", json=ORDER)
    assert resp.status_code == 401 and resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["reason"] == "bad_api_key" and resp.headers["www-authenticate"].startswith("Bearer")
    metrics = (await gateway.client.get("/metrics")).text
    assert 'at_gateway_auth_failures_total{reason="bad_api_key"} 1.0' in metrics


async def test_the_dev_trader_key_works_as_a_bearer_token(gateway: RunningGateway) -> None:
    resp = await gateway.client.post("/orders", json=ORDER, headers=dev_headers(Scope.TRADER))
    assert resp.status_code == 202, resp.text


async def test_a_key_of_another_scope_is_refused_403(make_settings) -> None:
    gw = RunningGateway(make_settings(api_keys=f"trader:{TV_OLD},operator:{OPS}"))
    await gw.start()
    try:
        resp = await gw.client.post("/orders", json=ORDER, headers={"Authorization": f"Bearer {OPS}"})
        assert (resp.status_code, resp.json()["reason"]) == (403, "insufficient_scope")
    finally:
        await gw.stop()


async def test_rotated_trader_keys_are_both_valid_for_orders_and_market_data(make_settings) -> None:
    gw = RunningGateway(make_settings(api_keys=f"trader:{TV_OLD},trader:{TV_NEW}", market_data_api_key_required=True))
    await gw.start()
    try:
        assert (await gw.client.post("/ingest/market-data", json=BATCH)).status_code == 401
        for key in (TV_OLD, TV_NEW):
            auth = {"Authorization": f"Bearer {key}"}
            assert (await gw.client.post("/orders", json=ORDER, headers=auth)).status_code == 202, key
            assert (await gw.client.post("/ingest/market-data", json=BATCH, headers=auth)).status_code == 202, key
        assert (await gw.client.post("/orders", json=ORDER, headers=dev_headers(Scope.TRADER))).status_code == 401
    finally:
        await gw.stop()


def test_production_with_a_dev_key_in_the_scoped_list_refuses_to_start() -> None:
    settings = GatewaySettings(
        environment="production",
        webhook_secrets="a-real-secret-0123456789",
        api_keys="trader:dev-api-key",
        market_data_api_key_required=True,
    )
    with pytest.raises(ApiKeyConfigError, match="dev trader key"):
        create_app(settings)
