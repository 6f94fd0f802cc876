"""The gateway's one middleware (pure ASGI): the first thing every request meets.

Per request, before anything is routed, read, logged or stored: its client address and deadline,
a refusal budget for unknown paths, and its count by route template and status when it is answered.
A webhook POST is then served here directly (:meth:`FrontDoor._webhook`): matched against the four
webhook routes only and handed to their handler, without the router's walk over every route,
FastAPI's dependency solving, or the inner exception and exit-stack layers. The routes stay
declared on their router (``/docs``, ``/openapi.json``, and every other method or path go
through FastAPI as before); a refusal raised on the fast path is answered by the same exception
handler the app registered for it, so the error shape is the same either way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from at_core.metrics import Metrics
from at_core.models.enums import IngestSource
from at_core.service_kit.problems import PROBLEM_JSON, problem_body
from at_gateway.api.routes import webhooks
from at_gateway.domain.limits import client_address
from at_gateway.errors import Reason

Handler = Callable[[Request, Exception], Awaitable[Response]]


class FrontDoor:
    """Sets ``request.state.source`` and ``.deadline``; answers 429 to a source that keeps asking for
    paths that do not exist once it has used up its refusal budget (nothing is kept for those);
    counts every answered request (``http_requests_total``); serves webhook POSTs directly."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._metrics: Metrics | None = None
        self._children: dict[tuple[str, int], Any] = {}
        self._webhooks: list[tuple[BaseRoute, IngestSource]] = [
            (route, webhooks.ORIGIN_OF[getattr(route, "endpoint", None)])  # type: ignore[index]
            for route in webhooks.router.routes
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gw = getattr(scope["app"].state, "service", None) if "app" in scope else None
        if scope["type"] != "http" or gw is None:
            await self.app(scope, receive, send)
            return
        peer = scope["client"][0] if scope.get("client") else None
        forwarded = [v.decode("latin-1") for k, v in scope["headers"] if k == b"x-forwarded-for"]
        source = client_address(peer, forwarded, gw.proxies)
        state = scope.setdefault("state", {})
        state["source"] = source
        state["deadline"] = time.monotonic() + gw.settings.answer_within_s
        if gw.service.refused_too_often(source) and not _known(scope):  # cheap test first
            gw.metrics.counter("rejected_total").labels("unmatched", Reason.RATE_LIMITED).inc()
            await _answer_429(send, source)
            return
        status = 500  # what a request that raises is answered (by the outer error layer)

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if scope["method"] == "POST" and (found := self._webhook_route(scope)) is not None:
                status = await self._webhook(scope, receive, send, *found)  # its own answer: no send wrapper
            else:
                await self.app(scope, receive, send_and_note)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self._counter(gw.metrics, route, status).inc()

    def _counter(self, metrics: Metrics, route: str, status: int) -> Any:
        """``http_requests_total`` for (route template, status): the label child looked up once
        (prometheus_client's ``labels`` validates and locks on every call); bounded like the labels."""
        if metrics is not self._metrics:  # a new lifespan, a new registry
            self._metrics, self._children = metrics, {}
        child = self._children.get((route, status))
        if child is None:
            if len(self._children) >= 1024:
                self._children.clear()
            child = self._children[(route, status)] = metrics.counter("http_requests_total").labels(route, str(status))
        return child

    def _webhook_route(self, scope: Scope) -> tuple[dict[str, Any], IngestSource] | None:
        """The webhook route this POST matches (its child scope, as the router would set it), else
        None: FastAPI decides (a mounted app with a root path included)."""
        path = scope["path"]
        if not path.startswith("/webhooks/") or scope.get("root_path"):
            return None
        for route, origin in self._webhooks:
            if (found := route.path_regex.match(path)) is not None:  # type: ignore[attr-defined]
                convert = route.param_convertors  # type: ignore[attr-defined]
                params = {k: convert[k].convert(v) for k, v in found.groupdict().items()}
                child = {"endpoint": route.endpoint, "path_params": params, "route": route}  # type: ignore[attr-defined]
                return child, origin
        return None

    async def _webhook(
        self, scope: Scope, receive: Receive, send: Send, child: dict[str, Any], origin: IngestSource
    ) -> int:
        """Serve one webhook POST; returns the status it was answered."""
        scope.update(child)  # route, endpoint, path_params: what the router would have set
        request = Request(scope, receive, send)
        try:
            response = await webhooks.handle(request, child["path_params"].get("token"), origin)
        except Exception as exc:
            handler = _handler_for(scope["app"].exception_handlers, exc)
            if handler is None:
                raise  # a bug: the outer error middleware answers it 500 (logged), as for any route
            response = await handler(request, exc)
        await response(scope, receive, send)
        return response.status_code


def _handler_for(handlers: dict[Any, Handler], exc: Exception) -> Handler | None:
    """The app's handler for ``exc``, looked up as starlette's ExceptionMiddleware does (by status for
    an HTTPException, then by class); the catch-all ``Exception`` handler is the outer layer's."""
    if isinstance(exc, HTTPException) and exc.status_code in handlers:
        return handlers[exc.status_code]
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            return handlers[cls]
    return None


def _known(scope: Scope) -> bool:
    return any(route.matches(scope)[0] is not Match.NONE for route in scope["app"].router.routes)


async def _answer_429(send: Send, source: str) -> None:
    detail = f"too many refused requests from {source}"
    body = json.dumps(problem_body(429, Reason.RATE_LIMITED, detail, instance="unmatched")).encode()
    headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})
