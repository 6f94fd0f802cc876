"""/docs can try an alert: every POST route declares its body, and its examples work as they are."""

from __future__ import annotations

import pytest

from at_core.service_kit import PROBLEM_JSON, Scope, dev_headers

pytestmark = pytest.mark.integration

ROUTES = ("/webhooks/tradingview", "/webhooks/pinescript", "/orders", "/ingest/market-data")


async def test_every_post_route_declares_a_body_with_examples(gateway) -> None:
    spec = (await gateway.client.get("/openapi.json")).json()
    for route in ROUTES:
        body = spec["paths"][route]["post"]["requestBody"]
        examples = body["content"]["application/json"]["examples"]
        assert examples and body["content"]["application/json"]["schema"], route
    token = spec["paths"]["/webhooks/tradingview/{token}"]["post"]["requestBody"]["content"]
    assert "text/plain" in token and "passphrase" not in str(token["application/json"]["examples"])


async def test_the_documented_examples_are_accepted_as_they_are(gateway) -> None:
    spec = (await gateway.client.get("/openapi.json")).json()
    headers = dev_headers(Scope.TRADER)
    for route in ROUTES:
        examples = spec["paths"][route]["post"]["requestBody"]["content"]["application/json"]["examples"]
        for name, example in examples.items():
            resp = await gateway.client.post(route, json=example["value"], headers=headers)
            assert resp.status_code in (200, 202), (route, name, resp.text)  # 200: a duplicate of an earlier try
    path_secret = await gateway.client.post(
        "/webhooks/tradingview/dev-webhook-secret",
        content=spec["paths"]["/webhooks/tradingview/{token}"]["post"]["requestBody"]["content"]["text/plain"][
            "example"
        ],
        headers={"content-type": "text/plain"},
    )
    assert path_secret.status_code in (200, 202), path_secret.text


async def test_a_422_is_problem_details_with_field_errors(gateway) -> None:
    resp = await gateway.client.post(
        "/orders", json={"account_id": "paper-1", "symbol": "MES1!", "side": "buy"}, headers=dev_headers(Scope.TRADER)
    )
    assert resp.status_code == 422 and resp.headers["content-type"] == PROBLEM_JSON
    body = resp.json()
    assert (body["type"], body["status"], body["reason"]) == ("urn:at:problem:invalid", 422, "invalid")
    assert any(e["loc"][-1] == "quantity" for e in body["errors"])


async def test_the_docs_assets_serve_their_files_and_nothing_outside_them(gateway) -> None:
    assert (await gateway.client.get("/docs-assets/swagger-ui-bundle.js")).status_code == 200
    for path in ("/docs-assets/../__init__.py", "/docs-assets/%2e%2e/__init__.py", "/docs-assets/nope.js"):
        resp = await gateway.client.get(path)
        assert resp.status_code == 404, (path, resp.status_code)
