"""The gateway app: assembled here, nothing else. ``at-gateway`` runs it under uvicorn."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from at_core.clock import Clock
from at_core.runtime.cli import service_cli
from at_core.runtime.logging import configure_logging, get_logger
from at_core.runtime.serving import SettledServer
from at_core.service_kit import ProblemError, ServiceSpec, create_service_app, field_errors, problem_response
from at_core.service_kit import Scope as KeyScope
from at_core.service_kit.problems import route_of
from at_gateway import __version__, bootstrap
from at_gateway.api.front_door import FrontDoor
from at_gateway.api.pipeline import dead_letter
from at_gateway.api.routes import health, ingest, orders, webhooks
from at_gateway.api.status import REASON_OF_STATUS, status_for
from at_gateway.bootstrap import Gateway
from at_gateway.config import GatewaySettings
from at_gateway.errors import Reason, Rejection
from at_gateway.server import http_protocol

log = get_logger("at_gateway")


def _redacted(gw: Gateway, error: dict[str, Any]) -> dict[str, Any]:
    """A field error whose message may echo the input (a symbol, a ticker): secrets masked."""
    msg = error.get("msg")
    return error | {"msg": gw.redactor.text(msg)} if isinstance(msg, str) else error


def create_app(settings: GatewaySettings | None = None, clock: Clock | None = None) -> FastAPI:
    """Build the app; settings are read here (from env / .env) when not given."""
    settings = settings or GatewaySettings()
    spec = ServiceSpec(
        name="gateway",
        title="at-gateway",
        version=__version__,
        description="TradingView webhooks and other ingest, published durably on NATS.",
        build=lambda: bootstrap.build(settings, clock),
        start=bootstrap.start,
        stop=bootstrap.stop,
        readiness=health.readiness,
        registry=health.registry,
        unscoped_key_scope=KeyScope.TRADER,  # AT_GATEWAY_API_KEYS may be a plain list: trader keys
        on_auth_refusal=health.count_auth_refusal,
    )
    app = create_service_app(spec, settings)
    for module in (webhooks, ingest, orders):
        app.include_router(module.router)
    app.add_middleware(FrontDoor)  # the one middleware of the gateway's own: see api/front_door.py

    # Every refusal is dead-lettered (best effort) and answered as problem details.
    @app.exception_handler(Rejection)
    async def on_rejection(
        request: Request, exc: Rejection, headers: dict[str, str] | None = None, status: int | None = None
    ) -> JSONResponse:
        gw = request.app.state.service
        try:
            await dead_letter(gw, request, exc, getattr(request.state, "raw_body", b""))
        except Exception as dl_exc:  # the dead letter is best effort; the caller still gets its 4xx
            log.error("dead_letter_failed", reason=exc.reason, error=repr(dl_exc))
        return problem_response(
            status or status_for(exc.reason),
            exc.reason,
            gw.redactor.text(exc.detail),
            instance=route_of(request),
            errors=[_redacted(gw, error) for error in exc.errors],
            headers=headers,
        )

    @app.exception_handler(ProblemError)
    async def on_problem(request: Request, exc: ProblemError) -> JSONResponse:
        rejection = Rejection(exc.reason, exc.detail, exc.errors)  # type: ignore[arg-type]  # the kit's reasons
        return await on_rejection(request, rejection, exc.headers, exc.status)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return await on_rejection(request, Rejection(Reason.INVALID, "invalid request", field_errors(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        reason = REASON_OF_STATUS.get(exc.status_code, Reason.HTTP_ERROR)
        return await on_rejection(request, Rejection(reason, str(exc.detail)), exc.headers, exc.status_code)

    return app


def serve() -> None:
    """Read the settings (environment, .env) and run the app: uvicorn or granian, one or more workers."""
    settings = GatewaySettings()
    configure_logging("gateway", settings.log_level)  # uvicorn's first lines are JSON too
    if settings.server == "granian":
        _serve_granian(settings)
    elif settings.workers > 1:
        _serve_uvicorn_workers(settings)
    else:
        _serve_uvicorn(settings)


def _uvicorn_config(settings: GatewaySettings) -> uvicorn.Config:
    # proxy_headers off: the gateway decides itself which proxies to believe (AT_GATEWAY_TRUSTED_PROXIES).
    return uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        http=http_protocol(settings),
        **settings.server_options(),
    )


def _serve_uvicorn(settings: GatewaySettings, sockets: list[socket.socket] | None = None) -> None:
    SettledServer(_uvicorn_config(settings)).run(sockets=sockets)


_WORKER_STOP_S = 15.0  # from SIGTERM to SIGKILL of a worker still running


def _serve_uvicorn_workers(settings: GatewaySettings) -> None:
    """``workers`` forked processes accepting on one listening socket, each its own app, bus
    connection and outbox (worker N > 0: ``outbox_path.wN``); the parent forwards SIGTERM/SIGINT.

    Each worker drains only its own outbox: lowering ``workers`` leaves the removed workers'
    outboxes undrained (RUNBOOK: drain before lowering).
    """
    sock = socket.create_server((settings.host, settings.port), backlog=2048)
    children = []
    for n in range(settings.workers):
        pid = os.fork()
        if pid == 0:  # the worker
            own = settings if n == 0 else settings.model_copy(update={"outbox_path": f"{settings.outbox_path}.w{n}"})
            _serve_uvicorn(own, [sock])
            os._exit(0)
        children.append(pid)

    stopping: list[float] = []

    def forward(signum: int, _frame: object) -> None:
        stopping.append(time.monotonic())
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    alive = set(children)
    while alive:
        for child in list(alive):
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(child, os.WNOHANG)[0] == 0:
                    continue
            alive.discard(child)
        if alive and stopping and time.monotonic() - stopping[0] > _WORKER_STOP_S:
            # a worker that has not stopped by now is stuck (seen once in its shutdown): what it
            # answered 202 is already durable (JetStream or the outbox), so it is killed, not waited for
            log.error("worker_stop_timeout", workers=sorted(alive), waited_s=_WORKER_STOP_S)
            for child in alive:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
        time.sleep(0.1)


def _serve_granian(settings: GatewaySettings) -> None:
    """granian (Rust HTTP/1.1, its own header read timeout as the slow-client bound); one worker
    only (``workers`` > 1 would share one outbox file: refused)."""
    try:
        from granian import Granian
        from granian.constants import Interfaces
        from granian.http import HTTP1Settings
    except ImportError as exc:
        raise SystemExit("AT_GATEWAY_SERVER=granian needs granian: pip install 'at-gateway[granian]'") from exc

    if settings.workers > 1:
        raise SystemExit("AT_GATEWAY_SERVER=granian runs one worker (AT_GATEWAY_WORKERS=1)")
    Granian(
        "at_gateway.main:create_app",
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=1,
        backlog=2048,
        backpressure=settings.http_limit_concurrency,  # beyond, granian holds new requests back
        http1_settings=HTTP1Settings(header_read_timeout=int(settings.http_read_timeout_s * 1000)),
        log_enabled=False,
    ).serve()


cli = service_cli(
    "at-gateway", "The gateway: TradingView webhooks and other ingest, published durably on NATS.", "AT_GATEWAY_", serve
)


def run() -> None:
    """Console script ``at-gateway``: ``at-gateway [run]``, ``at-gateway --help``."""
    cli()
