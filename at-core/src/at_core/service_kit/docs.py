"""``/docs`` (Swagger UI) and ``/redoc`` served from the service itself: no CDN, so they work offline.

FastAPI's own pages load Swagger UI and ReDoc from jsDelivr, so behind a firewall (or on a laptop
offline) ``/docs`` is blank. The kit serves the same pages with their JavaScript and CSS from
``/docs-assets/``, taken from the ``fastapi-offline`` wheel (MIT), which ships Swagger UI
(Apache-2.0, swagger-api/swagger-ui) and ReDoc (MIT, Redocly/redoc) unmodified. The licences
are those projects'; at-core's CONTRACTS names them.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_PATH = "/docs-assets"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"  # as FastAPI's own /docs has it
#: The vendored files the pages load (all served by the service itself).
ASSET_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")


def assets_dir() -> Path:
    """The directory holding Swagger UI's and ReDoc's files (inside the ``fastapi_offline`` package)."""
    return Path(str(resources.files("fastapi_offline").joinpath("static")))


def install_docs(app: FastAPI, openapi_url: str = "/openapi.json") -> None:
    """Add ``/docs``, ``/redoc`` and ``/docs-assets/*`` to ``app`` (built with ``docs_url=None``)."""
    app.mount(ASSETS_PATH, StaticFiles(directory=assets_dir()), name="docs-assets")
    title = app.title

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
            oauth2_redirect_url=OAUTH2_REDIRECT,
            swagger_ui_parameters={"tryItOutEnabled": True, "persistAuthorization": True},
        )

    @app.get(OAUTH2_REDIRECT, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} - ReDoc",
            redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )
