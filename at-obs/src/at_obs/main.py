"""The recorder app: assembled here. ``at-recorder`` runs it under uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from at_core.runtime.logging import configure_logging, get_logger
from at_obs import __version__, bootstrap
from at_obs.api import console
from at_obs.api.routes import audit, health
from at_obs.config import ObsSettings


def create_app(settings: ObsSettings | None = None) -> FastAPI:
    """The recorder app; settings from the environment unless given."""
    settings = settings or ObsSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging("obs", settings.log_level)
        rec = bootstrap.build(settings)
        app.state.recorder = rec
        starting = asyncio.create_task(bootstrap.start(rec), name="recorder-start")
        starting.add_done_callback(_log_start_failure)
        try:
            yield
        finally:
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await starting
            await bootstrap.stop(rec)

    app = FastAPI(
        title="at-obs recorder",
        version=__version__,
        lifespan=lifespan,
        description="Hash-chained audit trail of every at-core event.",
    )
    app.include_router(audit.router)
    app.include_router(health.router)
    console.include(app, settings)
    return app


def _log_start_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        get_logger("at_obs").error("recorder_start_failed", error=repr(task.exception()))


def run() -> None:
    """Console script ``at-recorder``."""
    settings = ObsSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None, access_log=False)
