"""The exec-sim app: assembled here. ``at-exec-sim`` runs it under uvicorn."""

from __future__ import annotations

import logging
import os
import signal
import sys

import uvicorn
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from uvicorn.config import STARTUP_FAILURE

from at_core.clock import Clock
from at_core.metrics import MetricCatalog
from at_core.metrics.exec_sim import CATALOG
from at_core.runtime.bus import PublishError
from at_core.runtime.cli import add_check_config, service_cli
from at_core.runtime.logging import configure_logging
from at_core.service_kit import ServiceSpec, create_service_app, problem_response, read_access
from at_exec_sim import __version__, bootstrap, consumers
from at_exec_sim.api.routes import control, decisions, health, portfolio, venues
from at_exec_sim.config import ExecSimSettings
from at_exec_sim.errors import ConfigError


def create_app(
    settings: ExecSimSettings | None = None, clock: Clock | None = None, metrics_catalog: MetricCatalog = CATALOG
) -> FastAPI:
    """The app; settings are read here (not at import), the service is built and started in the lifespan."""
    settings = settings or ExecSimSettings()
    spec = ServiceSpec(
        name="exec_sim",
        title="at-exec-sim",
        version=__version__,
        description="Pre-trade risk with prop-firm rules, a simulated venue, broker adapters, positions and P&L.",
        build=lambda: bootstrap.build(settings, clock, metrics_catalog),  # ConfigError: start fails
        start=consumers.start,
        stop=bootstrap.stop,
        readiness=health.readiness,
        registry=health.registry,
        consumers=health.consumers,
    )
    app = create_service_app(spec, settings)

    @app.exception_handler(PublishError)
    async def unpublished(request: Request, exc: PublishError) -> JSONResponse:
        """Applied (a halt, a resume) but JetStream has not taken its events: they wait in the outbox."""
        detail = f"applied, but NATS has not taken its events yet (kept, published before any later input): {exc}"
        return problem_response(503, "unpublished", detail, instance=request.url.path)

    reads = [Depends(read_access)]  # positions, orders, fills, P&L: a key in production
    app.include_router(portfolio.router, dependencies=reads)
    app.include_router(decisions.router, dependencies=reads)
    app.include_router(control.router)
    app.include_router(venues.router, dependencies=reads)
    return app


def serve() -> None:
    """Read the settings (environment, .env) and run the app under uvicorn. A failed start exits 3
    (as ``uvicorn.run``); a graceful stop on SIGTERM or SIGINT exits 0."""
    settings = ExecSimSettings()
    configure_logging("exec_sim", settings.log_level)  # uvicorn's first lines are JSON too
    config = uvicorn.Config(
        create_app(settings), host=settings.host, port=settings.port, log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    _let_go_of_the_signal_after_a_graceful_stop(server)
    server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
    # Stopped, its shutdown done (consumers, bus, venues closed) and its log written: end here, as
    # the signal uvicorn raises again used to end it. The interpreter's teardown would add a final
    # collection of the whole heap (calendars, instruments): 1-2 s of a SIGTERM for nothing.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _let_go_of_the_signal_after_a_graceful_stop(server: uvicorn.Server) -> None:
    """uvicorn stops gracefully on SIGTERM/SIGINT, puts back the handlers it found and raises the
    signal again, so a clean stop would end the process by the signal (exit -15). These are the
    handlers it finds: that second signal is let go; one before uvicorn took over still stops the
    process (exit 128 + the signal)."""

    def handler(signum: int, _frame: object) -> None:
        if not server.should_exit:
            raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)


cli = service_cli(
    "at-exec-sim",
    "Exec-sim: pre-trade risk with prop-firm rules, simulated venue, broker adapters, positions and P&L.",
    "AT_EXEC_SIM_",
    serve,
)


add_check_config(cli, "at-exec-sim", lambda: bootstrap.check_config(ExecSimSettings()), "accounts", (ConfigError,))


def run() -> None:
    """Console script ``at-exec-sim``: ``at-exec-sim [run]``, ``at-exec-sim check-config``, ``at-exec-sim --help``."""
    cli()
