"""The exec-sim app: assembled here. ``at-exec-sim`` runs it under uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from at_core.clock import Clock
from at_core.metrics import MetricCatalog
from at_core.metrics.exec_sim import CATALOG
from at_core.runtime.bus import PublishError
from at_core.runtime.logging import configure_logging, get_logger
from at_exec_sim import __version__, bootstrap, consumers
from at_exec_sim.api.routes import control, portfolio, venues
from at_exec_sim.config import ExecSimSettings

log = get_logger("at_exec_sim")


def create_app(
    settings: ExecSimSettings | None = None, clock: Clock | None = None, metrics_catalog: MetricCatalog = CATALOG
) -> FastAPI:
    """The app; settings are read here (not at import), the service is built and started in the lifespan."""
    settings = settings or ExecSimSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging("exec_sim", settings.log_level)
        svc = bootstrap.build(settings, clock, metrics_catalog)  # ConfigError: start fails
        app.state.exec_sim = svc
        starting = asyncio.create_task(consumers.start(svc), name="exec-sim-start")
        try:
            yield
        finally:
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await starting
            await bootstrap.stop(svc)

    app = FastAPI(
        title="at-exec-sim",
        version=__version__,
        lifespan=lifespan,
        description="Pre-trade risk with prop-firm rules, a simulated venue, broker adapters, positions and P&L.",
    )

    @app.exception_handler(PublishError)
    async def unpublished(request: Request, exc: PublishError) -> JSONResponse:
        """Applied (a halt, a resume) but JetStream has not taken its events: they wait in the outbox."""
        detail = f"applied, but NATS has not taken its events yet (kept, published before any later input): {exc}"
        return JSONResponse({"detail": detail}, 503)

    app.include_router(portfolio.router)
    app.include_router(control.router)
    app.include_router(venues.router)
    return app


def run() -> None:
    """Console script ``at-exec-sim``."""
    settings = ExecSimSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None, access_log=False)
