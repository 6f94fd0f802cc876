"""The trader's and operator's console, served by at-obs under ``/console``.

``include(app)`` is the one line the recorder's app needs: it adds the routes and static
files, maps sign-in and role errors to responses, and wraps the app's lifespan so the
console starts after the recorder (its store open) and stops before it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from nats.aio.client import Client

from at_core.runtime.logging import get_logger
from at_obs.adapters.notifier import Notifier
from at_obs.adapters.notifier import start as start_notifier
from at_obs.adapters.notifier import stop as stop_notifier
from at_obs.api.console import auth_routes, control, live, pages, state
from at_obs.api.console.deps import Forbidden, NotSignedIn, templates
from at_obs.console_settings import ConsoleSettings
from at_obs.service import Recorder

PREFIX = "/console"
STATIC = Path(__file__).parent / "static"
log = get_logger("at_obs.console")

router = APIRouter(prefix=PREFIX, tags=["console"], include_in_schema=False)
for module in (auth_routes, pages, live, control):
    router.include_router(module.router)


#: Every console response: nothing from another origin, never inside a frame (a framed kill switch
#: could be clicked through an invisible overlay), no referrer leaves the console.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def _security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    started = time.perf_counter()
    response = await call_next(request)
    if request.url.path.startswith(PREFIX):
        response.headers.update(SECURITY_HEADERS)
        _observe_page(request, response, time.perf_counter() - started)
    return response


def _observe_page(request: Request, response: Response, seconds: float) -> None:
    """A rendered page's time, by its route template (never the raw path: it may hold an id)."""
    console = getattr(request.app.state, "console", None)
    if request.method != "GET" or console is None or console.metrics is None:
        return
    if not response.headers.get("content-type", "").startswith("text/html"):
        return  # the event stream, static files, redirects: not pages
    route = request.scope.get("route")
    template = getattr(route, "path", None)
    if template is None:
        return
    # FastAPI gives an included router's route its own path (``/accounts``) or the full one
    page = template if template.startswith(PREFIX) else PREFIX + template
    console.metrics.histogram("console_page_seconds").labels(page).observe(seconds)


async def _not_signed_in(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith(f"{PREFIX}/live/stream") or request.method != "GET":
        return JSONResponse({"detail": "sign in first"}, status_code=401)
    return RedirectResponse(f"{PREFIX}/login", status_code=303)


async def _forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Forbidden)
    ctx = {"error": str(exc), "role": exc.role.value}
    return templates.TemplateResponse(request, "forbidden.html", ctx, status_code=403)


async def _start_notifier(notifier: Notifier, app: FastAPI) -> None:
    """Start the notifier, retrying until NATS answers (it never holds the recorder up)."""
    while True:
        try:
            await start_notifier(notifier, app.state.service.metrics)
            return
        except Exception as exc:
            log.warning("notifier_start_failed", error=repr(exc))
            if notifier.bus is not None:
                await notifier.bus.close()
                notifier.bus = None
            await asyncio.sleep(5.0)


def _nats_of(recorder: Recorder) -> Client | None:
    """The recorder's own NATS connection (the health page's consumer lag), None before it connects."""
    return recorder.bus.nc if recorder.bus is not None else None


def include(app: FastAPI, settings: ConsoleSettings) -> None:
    """Serve the console on ``app`` (unless ``AT_OBS_CONSOLE_ENABLED=false``).

    Args:
        app: the recorder's app (its lifespan sets ``app.state.service``).
        settings: the recorder's settings (``ObsSettings`` is a ``ConsoleSettings``).
    """
    if not settings.console_enabled:
        return
    app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="console-static")
    app.add_exception_handler(NotSignedIn, _not_signed_in)
    app.add_exception_handler(Forbidden, _forbidden)
    app.middleware("http")(_security_headers)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[Any]:
        async with inner(a) as inner_state:
            recorder = a.state.service
            console = state.ConsoleState(settings, metrics=recorder.metrics, nats=lambda: _nats_of(recorder))
            a.state.console = console
            # The live feed is what the recorder commits: listening before the store is read loses nothing.
            recorder.record_listeners.append(console.on_recorded)
            # The store loads in the background: the recorder is ready meanwhile, pages say "loading".
            console.tasks.append(asyncio.create_task(state.start(console, recorder.store), name="console-start"))
            notifier = Notifier(settings, metrics=a.state.service.metrics) if settings.notify_routes else None
            if notifier is not None:
                console.tasks.append(asyncio.create_task(_start_notifier(notifier, a), name="notifier-start"))
            try:
                yield inner_state
            finally:
                recorder.record_listeners.remove(console.on_recorded)
                await state.stop(console)
                if notifier is not None:
                    await stop_notifier(notifier)

    app.router.lifespan_context = lifespan
