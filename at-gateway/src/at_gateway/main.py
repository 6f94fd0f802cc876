"""The gateway app: assembled here, nothing else. ``at-gateway`` runs it under uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from at_core.clock import Clock
from at_core.runtime.logging import configure_logging, get_logger
from at_gateway import __version__, bootstrap
from at_gateway.api.front_door import FrontDoor
from at_gateway.api.pipeline import dead_letter
from at_gateway.api.routes import health, ingest, orders, webhooks
from at_gateway.api.status import REASON_OF_STATUS, status_for
from at_gateway.config import GatewaySettings
from at_gateway.errors import Reason, Rejection
from at_gateway.server import http_protocol

log = get_logger("at_gateway")


class RequestCounter:
    """Counts requests by route template and status (pure ASGI: no per-request task or stream)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            gw = getattr(scope["app"].state, "gateway", None)
            route = getattr(scope.get("route"), "path", "unmatched")
            if gw is not None:
                gw.metrics.counter("http_requests_total").labels(route, str(status)).inc()


def create_app(settings: GatewaySettings | None = None, clock: Clock | None = None) -> FastAPI:
    """Build the app; settings are read here (from env / .env) when not given."""
    settings = settings or GatewaySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging("gateway", settings.log_level)
        gw = bootstrap.build(settings, clock)
        app.state.gateway = gw
        connecting = asyncio.create_task(bootstrap.connect(gw), name="nats-connect")
        log.info("gateway_started", port=settings.port, routes=len(gw.routes.secrets), outbox_depth=gw.outbox.depth())
        try:
            yield
        finally:
            connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await connecting
            await bootstrap.close(gw)

    app = FastAPI(
        title="at-gateway",
        version=__version__,
        lifespan=lifespan,
        description="TradingView webhooks and other ingest, published durably on NATS.",
    )
    for module in (webhooks, ingest, orders, health):
        app.include_router(module.router)

    app.add_middleware(RequestCounter)
    app.add_middleware(FrontDoor)

    @app.exception_handler(Rejection)
    async def on_rejection(request: Request, exc: Rejection) -> JSONResponse:
        gw = request.app.state.gateway
        try:
            await dead_letter(gw, request, exc, getattr(request.state, "raw_body", b""))
        except Exception as dl_exc:  # the dead letter is best effort; the caller still gets its 4xx
            log.error("dead_letter_failed", reason=exc.reason, error=repr(dl_exc))
        body: dict = {"status": "rejected", "reason": exc.reason, "detail": gw.redactor.text(exc.detail)}
        if exc.errors:
            body["errors"] = exc.errors
        return JSONResponse(body, status_code=status_for(exc.reason))

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e["loc"]), "msg": str(e["msg"])} for e in exc.errors()]
        return await on_rejection(request, Rejection(Reason.INVALID, "invalid request", errors))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        reason = REASON_OF_STATUS.get(exc.status_code, Reason.HTTP_ERROR)
        return await on_rejection(request, Rejection(reason, str(exc.detail)))

    @app.exception_handler(Exception)
    async def on_bug(request: Request, exc: Exception) -> JSONResponse:
        route = getattr(request.scope.get("route"), "path", "unmatched")  # never the path: it may hold a secret
        log.exception("unhandled_error", route=route, error=repr(exc))
        return JSONResponse({"status": "error", "reason": "internal", "detail": "internal error, logged"}, 500)

    return app


def run() -> None:
    """Console script ``at-gateway``."""
    settings = GatewaySettings()
    # proxy_headers off: the gateway decides itself which proxies to believe (AT_GATEWAY_TRUSTED_PROXIES).
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        http=http_protocol(settings),
        **settings.server_options(),
    )
