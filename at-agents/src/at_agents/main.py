"""The agents app: assembled here. ``at-agents`` runs it under uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from at_agents import __version__, bootstrap, consumers
from at_agents.api.routes import service
from at_agents.config import AgentsSettings
from at_core.clock import Clock
from at_core.runtime.logging import configure_logging


def create_app(settings: AgentsSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or AgentsSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging("agents", settings.log_level)
        svc = bootstrap.build(settings, clock)
        app.state.agents = svc
        starting = asyncio.create_task(consumers.start(svc), name="agents-start")
        try:
            yield
        finally:
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await starting
            await bootstrap.disconnect(svc)

    app = FastAPI(
        title="at-agents",
        version=__version__,
        lifespan=lifespan,
        description="Rule agents and committees that turn signals into trade proposals.",
    )
    app.include_router(service.router)
    return app


def run() -> None:
    """Console script ``at-agents``."""
    settings = AgentsSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None, access_log=False)
