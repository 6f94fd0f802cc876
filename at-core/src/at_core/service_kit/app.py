"""The app factory every service's ``main.py`` calls: one lifespan, one ``app.state`` name, one error shape.

A service describes itself in a :class:`ServiceSpec` (how to build, start and stop it, how
ready it is, where its metrics are) and gets a FastAPI app with:

* settings already built (the service's ``create_app`` builds them, never at import);
* a lifespan that configures logging, builds the service into ``app.state.service``, starts
  it in the background (``/healthz`` answers while it connects) and stops it on shutdown;
* ``/healthz``, ``/readyz`` (with JetStream's view of every durable) and ``/metrics``;
* problem-details errors (RFC 9457) for every 4xx and 5xx;
* bearer API keys with scopes on ``app.state.auth`` (dev keys refused in production);
* ``/docs`` (Swagger UI) and ``/redoc`` with their assets served by the service (no CDN);
* ``/docs`` and ``/openapi.json`` off under ``environment=production`` unless ``docs_enabled``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from fastapi import FastAPI, Request
from prometheus_client import CollectorRegistry

from at_core.runtime.bus import Consumer
from at_core.runtime.logging import configure_logging, get_logger
from at_core.runtime.settings import ServiceSettings
from at_core.service_kit import health
from at_core.service_kit.auth import AuthPolicy, KeyRing, Scope
from at_core.service_kit.consumers import ConsumerWatch
from at_core.service_kit.docs import install_docs
from at_core.service_kit.health import Readiness
from at_core.service_kit.problems import install_problem_handlers

S = TypeVar("S")
log = get_logger("at_core.service_kit")


@dataclass(frozen=True)
class ServiceSpec(Generic[S]):
    """What the kit needs to know about a service.

    Attributes:
        name: the service's short name (``exec_sim``): log field ``service``.
        title: the app's title (``at-exec-sim``).
        build: wires the service (no connection); a ``ConfigError`` here fails the start.
        start: connects and starts consuming; runs in the background after ``build``.
        stop: stops consumers, closes connections; bounded.
        readiness: the service's own readiness (connected, recovered, ...).
        registry: the Prometheus registry ``/metrics`` serves (may update gauges first).
        consumers: the durable consumers ``/readyz`` checks in JetStream.
        unscoped_key_scope: the scope of an API key written without ``scope:`` (a legacy list).
        context: an extra async context held open for the app's life (e.g. the MCP session manager).
        on_auth_refusal: called with the service and a reason on every 401/403 (to count it).
    """

    name: str
    title: str
    version: str
    description: str
    build: Callable[[], S]
    start: Callable[[S], Awaitable[None]]
    stop: Callable[[S], Awaitable[None]]
    readiness: Callable[[S], Awaitable[Readiness]]
    registry: Callable[[S], CollectorRegistry]
    consumers: Callable[[S], Sequence[Consumer]] = health.no_consumers
    unscoped_key_scope: Scope | None = None
    context: Callable[[S], AbstractAsyncContextManager[Any]] | None = None
    on_auth_refusal: Callable[[S, str], None] | None = None


@dataclass
class KitState:
    """The kit's own per-app state, on ``app.state.kit``."""

    spec: ServiceSpec[Any]
    settings: ServiceSettings
    watch: ConsumerWatch
    starting: asyncio.Task[None] | None = field(default=None)


def auth_policy(settings: ServiceSettings, unscoped: Scope | None = None) -> AuthPolicy:
    """The key ring from ``settings.api_keys``; in production, dev or short keys refuse to start.

    Raises:
        ApiKeyConfigError: a malformed entry, or a dev key in production.
    """
    keys = KeyRing.parse(settings.api_keys.get_secret_value(), unscoped=unscoped)
    production = settings.environment == "production"
    if production:
        keys.check_production()
    return AuthPolicy(keys=keys, reads_need_key=production or settings.reads_need_api_key)


def docs_enabled(settings: ServiceSettings) -> bool:
    """``/docs`` and ``/openapi.json``: on unless production, where ``docs_enabled`` must turn them on."""
    if settings.docs_enabled is not None:
        return settings.docs_enabled
    return settings.environment != "production"


def service_of(request: Request) -> Any:
    """The wired service of the app serving ``request`` (``app.state.service``)."""
    return request.app.state.service


def create_service_app(spec: ServiceSpec[S], settings: ServiceSettings) -> FastAPI:
    """A FastAPI app for ``spec``, configured by ``settings``; add the service's own routers to it.

    Raises:
        ApiKeyConfigError: the API keys are malformed, or dev keys under ``environment=production``.
    """
    policy = auth_policy(settings, spec.unscoped_key_scope)
    kit = KitState(spec=spec, settings=settings, watch=ConsumerWatch(settings.consumer_stall_after_s))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(spec.name, settings.log_level)
        svc = spec.build()
        app.state.service = svc
        if spec.on_auth_refusal is not None:
            refused = spec.on_auth_refusal
            app.state.auth = AuthPolicy(policy.keys, policy.reads_need_key, lambda reason: refused(svc, reason))
        async with contextlib.AsyncExitStack() as stack:
            if spec.context is not None:
                await stack.enter_async_context(spec.context(svc))
            kit.starting = asyncio.create_task(_start(spec, svc), name=f"{spec.name}-start")
            log.info("service_starting", title=spec.title, version=spec.version, port=settings.port)
            try:
                yield
            finally:
                kit.starting.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await kit.starting
                await spec.stop(svc)

    show_docs = docs_enabled(settings)
    app = FastAPI(
        title=spec.title,
        version=spec.version,
        description=spec.description,
        lifespan=lifespan,
        docs_url=None,  # served by install_docs, from the service's own assets (no CDN)
        redoc_url=None,
        openapi_url="/openapi.json" if show_docs else None,
    )
    if show_docs:
        install_docs(app)
    app.state.kit = kit
    app.state.auth = policy
    install_problem_handlers(app)
    app.include_router(health.router)
    return app


async def _start(spec: ServiceSpec[S], svc: S) -> None:
    try:
        await spec.start(svc)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the service stays unready (/readyz 503) and says why
        log.error("service_start_failed", service=spec.name, error=repr(exc))
        raise
