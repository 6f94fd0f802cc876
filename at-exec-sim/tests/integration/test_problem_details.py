"""exec-sim answers errors in the one shape every service uses: RFC 9457 problem details."""

from __future__ import annotations

import pytest
from tests.integration.test_service import Running

from at_core.service_kit import PROBLEM_JSON
from at_core.testing import NatsServer

pytestmark = pytest.mark.integration


async def test_a_422_a_404_and_the_docs_pages_are_the_kits(nats_server: NatsServer) -> None:
    async with Running(nats_server.url) as svc:
        bad = await svc.client.post("/kill-switch", json={"acount_id": "paper-1"})
        assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM_JSON
        assert bad.json()["reason"] == "invalid" and bad.json()["errors"][0]["loc"] == ["body", "acount_id"]
        missing = await svc.client.get("/account", params={"account_id": "nobody"})
        assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM_JSON
        assert missing.json()["reason"] == "not_found"
        assert "/docs-assets/swagger-ui-bundle.js" in (await svc.client.get("/docs")).text
