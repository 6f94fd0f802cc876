"""/docs and /redoc load nothing from a CDN: the service serves Swagger UI's and ReDoc's files itself."""

from __future__ import annotations

import re

import pytest
from tests.integration.test_service_kit_app import Running, create_app

from at_core.runtime.settings import ServiceSettings
from at_core.service_kit.docs import ASSET_FILES, ASSETS_PATH

pytestmark = pytest.mark.integration


async def test_docs_and_redoc_load_only_the_services_own_assets(nats_url: str, unique_token: str) -> None:
    async with Running(create_app(ServiceSettings(nats_url=nats_url), f"toy-{unique_token}")) as svc:
        for page in ("/docs", "/redoc"):
            html = (await svc.client.get(page)).text
            urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", html)
            assert urls, page
            external = [u for u in urls if u.startswith(("http:", "https:", "//"))]
            assert external == [], f"{page} loads {external}"
            for url in urls:
                if url.startswith(ASSETS_PATH):
                    assert (await svc.client.get(url)).status_code == 200, url
        for name in ASSET_FILES:
            resp = await svc.client.get(f"{ASSETS_PATH}/{name}")
            assert resp.status_code == 200 and len(resp.content) > 1000, name
        assert "/docs-assets/{path}" not in (await svc.client.get("/openapi.json")).json()["paths"]
