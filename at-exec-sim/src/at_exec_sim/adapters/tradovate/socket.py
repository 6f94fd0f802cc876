"""Tradovate's WebSocket protocol, over the ``websockets`` library.

No maintained Python client for this protocol exists (it is Tradovate's own framing, not
SignalR or socket.io), so it is spoken here in ~100 lines on top of ``websockets``:

- the server opens with the frame ``o``, sends ``h`` heartbeats, data as ``a[...]`` (a JSON
  array) and ``c`` on close;
- a request is ``endpoint\\nid\\nquery\\nbody``; its answer is ``{"i": id, "s": status, "d": ...}``
  in an ``a`` frame; ``authorize`` (body: the access token) comes first;
- the client sends ``[]`` every ``heartbeat_s`` (2.5 s) or the server closes the socket;
- after ``user/syncrequest {"users": [userId]}``, changes arrive as ``{"e": "props", "d": ...}``.

A push tells exec-sim to reconcile by REST (the broker's state of each order, its fills);
every reconnect (after a backoff) authorizes with the current token, syncs again and tells
exec-sim to reconcile, so what happened while it was down is booked.

The close handshake is bounded (:data:`CLOSE_TIMEOUT_S`, websockets' default is 10 s): on stop
the cancelled session closes its socket on the way out, and a server gone silent (a half-open
socket) no longer holds a SIGTERM until the bounded cancel gives up on it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from at_core.runtime.logging import get_logger
from at_core.runtime.tasks import stop_task
from at_exec_sim.adapters.health import NO_HEALTH, BrokerHealth

log = get_logger("at_exec_sim.tradovate")


#: How long a close waits for the server's answer before websockets drops the TCP connection.
CLOSE_TIMEOUT_S = 0.5


class SocketRefusedError(Exception):
    """The server refused ``authorize`` or the sync request."""


def request_frame(endpoint: str, request_id: int, body: Any = None, query: str = "") -> str:
    """One request in Tradovate's framing (``authorize`` takes the raw token as its body)."""
    text = body if isinstance(body, str) else ("" if body is None else json.dumps(body))
    return f"{endpoint}\n{request_id}\n{query}\n{text}"


def parse_frame(raw: str) -> tuple[str, list[Any]]:
    """A server frame: its kind (``o``, ``h``, ``a``, ``c``) and the items of an ``a`` frame."""
    if not raw:
        return "", []
    kind = raw[0]
    if kind == "a":
        items = json.loads(raw[1:])
        return kind, items if isinstance(items, list) else []
    return kind, []


class TradovateSocket:
    """The user-data socket of one login: authorized, synced, kept alive, reconnected."""

    def __init__(
        self,
        url: str,
        token: Callable[[], str | None],
        user_id: Callable[[], int | None],
        *,
        heartbeat_s: float = 2.5,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.url = url
        self._token = token
        self._user_id = user_id
        self.heartbeat_s = heartbeat_s
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._sleep = sleep
        self.listener: Callable[[str], None] | None = None
        self.connects = 0
        self.health: BrokerHealth = NO_HEALTH  # every connect counted (broker_realtime_connects_total)
        self.pushes = 0
        self.heartbeats = 0
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="tradovate-socket")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None

    async def _run(self) -> None:
        delay = self.backoff_s
        while True:
            try:
                async with connect(self.url, open_timeout=10, ping_interval=None, close_timeout=CLOSE_TIMEOUT_S) as ws:
                    await self._session(ws)
                    delay = self.backoff_s
            except asyncio.CancelledError:
                raise
            except (OSError, ConnectionClosed, InvalidHandshake, SocketRefusedError, TimeoutError, ValueError) as exc:
                log.warning("tradovate_socket_lost", error=f"{type(exc).__name__}: {exc}"[:300], retry_in_s=delay)
            self.connected.clear()
            await self._sleep(delay)
            delay = min(delay * 2, self.max_backoff_s)

    async def _session(self, ws: ClientConnection) -> None:
        kind, _ = parse_frame(str(await ws.recv()))
        if kind != "o":
            raise SocketRefusedError(f"expected the open frame, got {kind!r}")
        await ws.send(request_frame("authorize", 0, self._token() or ""))
        await self._answer(ws, 0)
        await ws.send(request_frame("user/syncrequest", 1, {"users": [self._user_id()]}))
        await self._answer(ws, 1)
        self.connects += 1
        self.health.realtime_connected()
        self.connected.set()
        log.info("tradovate_socket_synced", connects=self.connects)
        if self.connects > 1:
            self._tell("reconnected")
        beat = asyncio.create_task(self._heartbeat(ws))
        try:
            while True:
                kind, items = parse_frame(str(await ws.recv()))
                if kind == "c":
                    raise SocketRefusedError("the server closed the session")
                self._on_items(items)
        finally:
            beat.cancel()

    async def _answer(self, ws: ClientConnection, request_id: int) -> Any:
        while True:
            kind, items = parse_frame(str(await ws.recv()))
            if kind == "c":
                raise SocketRefusedError("the server closed the session")
            for item in items:
                if isinstance(item, dict) and item.get("i") == request_id:
                    if item.get("s") != 200:
                        raise SocketRefusedError(f"request {request_id} refused: {item.get('s')} {item.get('d')}")
                    return item.get("d")
            self._on_items(items)

    def _on_items(self, items: list[Any]) -> None:
        for item in items:
            if isinstance(item, dict) and item.get("e") == "props":
                self.pushes += 1
                self._tell("props")
            elif isinstance(item, dict) and item.get("e") == "shutdown":
                raise SocketRefusedError(f"server shutdown: {item.get('d')}")

    async def _heartbeat(self, ws: ClientConnection) -> None:
        while True:
            await self._sleep(self.heartbeat_s)
            await ws.send("[]")
            self.heartbeats += 1

    def _tell(self, reason: str) -> None:
        if self.listener is not None:
            self.listener(reason)
