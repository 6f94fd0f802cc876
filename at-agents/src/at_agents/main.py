"""The agents app: assembled here. ``at-agents`` runs it under uvicorn."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI

from at_agents import __version__, bootstrap, consumers
from at_agents.api.mcp_server import build_mcp
from at_agents.api.routes import agents, health
from at_agents.config import AgentsSettings
from at_agents.errors import ConfigError
from at_core.clock import Clock
from at_core.runtime.cli import add_check_config, service_cli
from at_core.runtime.logging import configure_logging
from at_core.runtime.serving import serve_settled
from at_core.service_kit import Scope, ScopeGuard, ServiceSpec, create_service_app, read_access


def create_app(settings: AgentsSettings | None = None, clock: Clock | None = None, **build_kw: Any) -> FastAPI:
    """Build the app: the service is wired here (the MCP tools bind to it; no connection); the lifespan consumes."""
    settings = settings or AgentsSettings()
    svc = bootstrap.build(settings, clock, **build_kw)
    mcp = build_mcp(svc) if settings.mcp_enabled else None
    spec = ServiceSpec(
        name="agents",
        title="at-agents",
        version=__version__,
        description="Rule and LLM agents and committees that turn signals into trade proposals; MCP at /mcp.",
        build=lambda: svc,
        start=consumers.start,
        stop=bootstrap.stop,
        readiness=health.readiness,
        registry=health.registry,
        consumers=health.consumers,
        context=(lambda _: mcp.session_manager.run()) if mcp is not None else None,
    )
    app = create_service_app(spec, settings)
    app.state.service = svc  # built here already (the lifespan sets the same): routes answer before it starts
    app.include_router(agents.router, dependencies=[Depends(read_access)])  # decisions carry positions
    if mcp is not None:
        mcp_app = mcp.streamable_http_app(streamable_http_path="/mcp", host=settings.host)
        app.router.routes.extend(mcp_app.routes)
        # propose_trade places trades: the MCP endpoint needs an agent key (a mounted app: guarded in ASGI)
        app.add_middleware(ScopeGuard, prefix="/mcp", scope=Scope.AGENT)
    return app


def serve() -> None:
    """Read the settings (environment, .env) and run the app under uvicorn."""
    settings = AgentsSettings()
    configure_logging("agents", settings.log_level)  # uvicorn's first lines are JSON too
    serve_settled(create_app(settings), settings.host, settings.port)  # start-up heap frozen once up


cli = service_cli(
    "at-agents",
    "The agents: rule and LLM agents and committees that turn signals into trade proposals (MCP at /mcp).",
    "AT_AGENTS_",
    serve,
)


add_check_config(cli, "at-agents", lambda: bootstrap.check_config(AgentsSettings()), "committees", (ConfigError,))


def run() -> None:
    """Console script ``at-agents``: ``at-agents [run]``, ``at-agents check-config``, ``at-agents --help``."""
    cli()
