"""Guard a path of mounted ASGI routes (the MCP endpoint) with a scope, before the app sees the request.

FastAPI dependencies cover FastAPI routes only; a mounted Starlette app (the MCP SDK's
streamable HTTP transport) is guarded by this pure-ASGI middleware instead.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Send
from starlette.types import Scope as AsgiScope

from at_core.service_kit.auth import Scope, authorize
from at_core.service_kit.problems import ProblemError, problem_response


class ScopeGuard:
    """Requests whose path is ``prefix`` or under it need a key with ``scope``; others pass untouched."""

    def __init__(self, app: ASGIApp, *, prefix: str, scope: Scope) -> None:
        self.app = app
        self.prefix = prefix.rstrip("/")
        self.scope = scope

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] == "http" and (path == self.prefix or path.startswith(self.prefix + "/")):
            try:
                authorize(Request(scope), self.scope)
            except ProblemError as exc:
                response = problem_response(exc.status, exc.reason, exc.detail, instance=path, headers=exc.headers)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
