"""The recorder app: assembled here. ``at-recorder`` runs it under uvicorn."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from at_core.runtime.cli import service_cli
from at_core.runtime.logging import configure_logging
from at_core.runtime.serving import serve_settled
from at_core.service_kit import ServiceSpec, create_service_app, read_access
from at_obs import __version__, bootstrap, consumers
from at_obs.api import console
from at_obs.api.routes import audit, health
from at_obs.config import ObsSettings


def create_app(settings: ObsSettings | None = None) -> FastAPI:
    """The recorder app; settings from the environment unless given."""
    settings = settings or ObsSettings()
    spec = ServiceSpec(
        name="obs",
        title="at-obs recorder",
        version=__version__,
        description="Hash-chained audit trail of every at-core event.",
        build=lambda: bootstrap.build(settings),
        start=consumers.start,
        stop=bootstrap.stop,
        readiness=health.readiness,
        registry=health.registry,
        consumers=health.consumers,
    )
    app = create_service_app(spec, settings)
    app.include_router(audit.router, dependencies=[Depends(read_access)])  # the trail holds every fill and P&L
    console.include(app, settings)
    return app


def serve() -> None:
    """Read the settings (environment, .env) and run the app under uvicorn."""
    settings = ObsSettings()
    configure_logging("obs", settings.log_level)  # uvicorn's first lines are JSON too
    serve_settled(create_app(settings), settings.host, settings.port)  # start-up heap frozen once up


cli = service_cli(
    "at-recorder", "The recorder: the hash-chained audit trail of every event, and the console.", "AT_OBS_", serve
)


def run() -> None:
    """Console script ``at-recorder``: ``at-recorder [run]``, ``at-recorder --help``."""
    cli()
