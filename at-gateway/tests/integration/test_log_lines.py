"""LOG_SPEC holds for the gateway: every line JSON with ``service`` (uvicorn's and request tasks'
too), the correlation id where there is one, and ``input_rejected`` lines name the fields at fault."""

from __future__ import annotations

import json

import pytest
from tests.conftest import SECRET, RunningGateway, fixture_body

from at_core.service_kit import Scope, dev_headers

pytestmark = pytest.mark.integration


async def test_every_line_is_json_with_service_and_rejections_carry_their_field_errors(make_settings, capsys) -> None:
    gw = RunningGateway(make_settings())
    await gw.start()
    try:
        accepted = await gw.client.post(f"/webhooks/tradingview/{SECRET}", content=fixture_body("strategy_alert.json"))
        refused = await gw.client.post(
            "/ingest/market-data",
            json={"items": [{"kind": "quote", "symbol": "CME_MINI:MES1!", "bid": "not-a-price"}]},
            headers=dev_headers(Scope.TRADER),
        )
    finally:
        await gw.stop()
    assert accepted.status_code == 202, accepted.text
    assert refused.status_code == 422, refused.text
    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]  # a plain-text line fails here
    assert len(lines) >= 4
    assert [line for line in lines if line.get("service") != "gateway"] == []
    correlation = accepted.json()["correlation_id"]
    assert any(line.get("correlation_id") == correlation for line in lines), "no line of the accepted alert"
    rejected = [line for line in lines if line["event"] == "input_rejected"]
    assert rejected and rejected[0]["reason"] == "invalid"
    locs = [error["loc"] for error in rejected[0]["errors"]]
    assert any("bid" in loc for loc in locs), rejected[0]
    assert all(error["msg"] for error in rejected[0]["errors"])
