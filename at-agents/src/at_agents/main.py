"""The agents app: assembled here. ``at-agents`` runs it under uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from at_agents import __version__, bootstrap, consumers
from at_agents.api.mcp_server import build_mcp
from at_agents.api.routes import service
from at_agents.config import AgentsSettings
from at_core.clock import Clock
from at_core.runtime.logging import configure_logging


def create_app(settings: AgentsSettings | None = None, clock: Clock | None = None, **build_kw: Any) -> FastAPI:
    """Build the app: the service is wired here (no connection); the lifespan connects and consumes."""
    settings = settings or AgentsSettings()
    svc = bootstrap.build(settings, clock, **build_kw)
    mcp = build_mcp(svc) if settings.mcp_enabled else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging("agents", settings.log_level)
        async with AsyncExitStack() as stack:
            if mcp is not None:
                await stack.enter_async_context(mcp.session_manager.run())
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
        description="Rule and LLM agents and committees that turn signals into trade proposals; MCP at /mcp.",
    )
    app.state.agents = svc
    app.include_router(service.router)
    if mcp is not None:
        app.state.mcp = mcp
        mcp_app = mcp.streamable_http_app(streamable_http_path="/mcp", host=settings.host)
        app.router.routes.extend(mcp_app.routes)
    return app


def run() -> None:
    """Console script ``at-agents``."""
    settings = AgentsSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None, access_log=False)
