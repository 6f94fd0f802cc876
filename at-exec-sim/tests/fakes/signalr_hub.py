"""A SignalR hub (JSON protocol over WebSocket) as ASP.NET Core serves one, for tests.

``POST {path}/negotiate`` answers a connection id; the socket then takes the client's
handshake (``{"protocol":"json","version":1}`` + 0x1E) and answers ``{}``; after it come
invocations (type 1, answered with a completion, type 3, when they carry an invocation id),
pings (type 6, both ways) and pushes (:meth:`Hub.push`). :meth:`Hub.drop` closes every socket
(the switch a test flips to lose the connection). A request without a valid bearer token is
refused with 401 at negotiation and at the socket.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

RS = "\x1e"


class Hub:
    """The hub's state: live connections, what each subscribed, every invocation received."""

    def __init__(self, path: str, authorized: Callable[[str | None], bool]) -> None:
        self.path = path
        self.authorized = authorized
        self.sockets: dict[str, WebSocket] = {}
        self.subscriptions: dict[str, list[tuple[str, list[Any]]]] = {}
        self.invocations: list[tuple[str, list[Any]]] = []
        self.connections = 0
        self.refused = 0
        self.changed = asyncio.Event()

    def routes(self) -> list[Any]:
        return [Route(f"{self.path}/negotiate", self._negotiate, methods=["POST"]), WebSocketRoute(self.path, self._ws)]

    def _token(self, headers: Any) -> str | None:
        value = headers.get("authorization", "")
        return value[7:] if value.startswith("Bearer ") else None

    async def _negotiate(self, request: Request) -> Response:
        if not self.authorized(self._token(request.headers)):
            self.refused += 1
            self._changed()
            return Response(status_code=401)
        conn = uuid.uuid4().hex
        return JSONResponse(
            {
                "connectionId": conn,
                "connectionToken": conn,
                "negotiateVersion": 1,
                "availableTransports": [{"transport": "WebSockets", "transferFormats": ["Text", "Binary"]}],
            }
        )

    async def _ws(self, ws: WebSocket) -> None:
        if not self.authorized(self._token(ws.headers)):
            self.refused += 1
            self._changed()
            await ws.close(code=1008)
            return
        await ws.accept()
        handshake = json.loads((await ws.receive_text()).rstrip(RS))
        if handshake.get("protocol") != "json":
            await ws.send_text(json.dumps({"error": "json only"}) + RS)
            await ws.close()
            return
        key = uuid.uuid4().hex
        await ws.send_text("{}" + RS)
        await ws.send_text(json.dumps({"type": 6}) + RS)  # the server's keepalive ping
        self.sockets[key], self.subscriptions[key] = ws, []
        self.connections += 1
        try:
            while True:
                for raw in (await ws.receive_text()).split(RS):
                    if raw:
                        await self._message(key, ws, json.loads(raw))
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self.sockets.pop(key, None)
            self.subscriptions.pop(key, None)
            self._changed()

    async def _message(self, key: str, ws: WebSocket, msg: dict[str, Any]) -> None:
        if msg.get("type") == 1:
            call = (str(msg["target"]), list(msg.get("arguments") or []))
            self.invocations.append(call)
            self.subscriptions[key].append(call)
            if msg.get("invocationId"):
                await ws.send_text(json.dumps({"type": 3, "invocationId": msg["invocationId"], "result": None}) + RS)
            self._changed()
        elif msg.get("type") == 7:
            await ws.close()

    def _changed(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    async def until(self, done: Callable[[], bool], timeout_s: float = 10.0) -> None:
        """Wait (with a deadline) for the hub's state to satisfy ``done``."""

        async def wait() -> None:
            while not done():
                await self.changed.wait()

        await asyncio.wait_for(wait(), timeout_s)

    def subscribed(self, method: str) -> int:
        """How many live connections invoked ``method``."""
        return sum(1 for calls in self.subscriptions.values() if any(m == method for m, _ in calls))

    async def push(self, target: str, *arguments: Any) -> None:
        frame = json.dumps({"type": 1, "target": target, "arguments": list(arguments)}) + RS
        for ws in list(self.sockets.values()):
            await ws.send_text(frame)

    async def drop(self) -> None:
        """Close every connection, as a network failure would."""
        for ws in list(self.sockets.values()):
            await ws.close(code=1011)
