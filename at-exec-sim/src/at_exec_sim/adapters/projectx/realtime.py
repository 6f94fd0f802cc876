"""ProjectX's user hub (SignalR over WebSocket), through pysignalr.

The hub pushes ``GatewayUserAccount``, ``GatewayUserOrder``, ``GatewayUserPosition`` and
``GatewayUserTrade``; subscriptions (``SubscribeAccounts``, ``SubscribeOrders``,
``SubscribePositions``, ``SubscribeTrades``, each with the account id) do not survive a
reconnect, so they are sent again every time the connection opens. A push does not carry
everything exec-sim books (fees, the order's customTag in every version of the API), so a push
only tells exec-sim to reconcile by REST; so does every reconnect, which books what happened
while the socket was down (fills, cancels, partial fills).

pysignalr reconnects a dropped socket itself; when its run ends (the hub refused the token,
the host is down) this loop builds a new client with the current token after a backoff.
The token goes in the ``Authorization`` header (renewed tokens included), never in a URL
that could be logged.

On stop the socket is closed with a bounded handshake (:data:`CLOSE_TIMEOUT_S`), then the loop
is cancelled (with it any reconnect the close started): a hub gone silent (a half-open socket)
used to hold a SIGTERM for the client's 10 s connection timeout, which pysignalr also uses as
the close timeout. Nothing is lost by not waiting: the hub only tells exec-sim to ask REST.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from pysignalr.client import SignalRClient

from at_core.runtime.logging import get_logger
from at_core.runtime.tasks import stop_task
from at_exec_sim.adapters.health import NO_HEALTH, BrokerHealth

log = get_logger("at_exec_sim.projectx")

EVENTS = ("GatewayUserAccount", "GatewayUserOrder", "GatewayUserPosition", "GatewayUserTrade")
SUBSCRIPTIONS = ("SubscribeAccounts", "SubscribeOrders", "SubscribePositions", "SubscribeTrades")
#: How long a stop waits for the hub to answer the close handshake before dropping the socket.
CLOSE_TIMEOUT_S = 0.5


class UserHub:
    """The user hub of one account: subscribed on every connect, telling a listener what changed."""

    def __init__(
        self,
        url: str,
        token: Callable[[], str | None],
        *,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.url = url
        self._token = token
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._sleep = sleep
        self.listener: Callable[[str], None] | None = None
        self.connects = 0
        self.health: BrokerHealth = NO_HEALTH  # every connect counted (broker_realtime_connects_total)
        self.pushes = 0
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._account_id: int | None = None
        self._client: SignalRClient | None = None

    async def start(self, account_id: int) -> None:
        """Start connecting in the background (the first connection is not awaited)."""
        self._account_id = account_id
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="projectx-user-hub")

    async def stop(self) -> None:
        """Close the socket (a cancelled pysignalr run leaves it open), bounded, then end the loop."""
        transport = getattr(self._client, "_transport", None)
        ws = getattr(transport, "_ws", None)  # pysignalr has no public close: its open socket, if any
        if ws is not None:
            ws.close_timeout = CLOSE_TIMEOUT_S  # websockets then drops the TCP connection itself
            with contextlib.suppress(Exception):  # TimeoutError included: a socket that would not even take the frame
                await asyncio.wait_for(ws.close(), CLOSE_TIMEOUT_S * 2)
        await stop_task(self._task)
        self._task = None

    def _client_now(self) -> SignalRClient:
        token = self._token() or ""
        client = SignalRClient(
            self.url,
            headers={"Authorization": f"Bearer {token}"},
            access_token_factory=lambda: self._token() or "",
            connection_timeout=10,
        )
        client.on_open(self._opened)
        client.on_close(self._closed)
        for name in EVENTS:
            client.on(name, self._pushed(name))
        return client

    async def _run(self) -> None:
        delay = self.backoff_s
        while True:
            self._client = self._client_now()
            try:
                await self._client.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # refused, unreachable: a new client, a fresh token, later
                log.warning("projectx_hub_failed", error=f"{type(exc).__name__}: {exc}"[:300], retry_in_s=delay)
            self.connected.clear()
            await self._sleep(delay)
            delay = min(delay * 2, self.max_backoff_s)

    async def _opened(self) -> None:
        assert self._client is not None and self._account_id is not None
        for method in SUBSCRIPTIONS:
            arguments: list[Any] = [] if method == "SubscribeAccounts" else [self._account_id]
            await self._client.send(method, arguments)
        self.connects += 1
        self.health.realtime_connected()
        self.connected.set()
        log.info("projectx_hub_subscribed", connects=self.connects)
        if self.connects > 1:
            self._tell("reconnected")  # what happened while it was down comes from REST

    async def _closed(self) -> None:
        if self.connected.is_set():
            log.warning("projectx_hub_disconnected")
        self.connected.clear()

    def _pushed(self, name: str) -> Callable[[list[Any]], Awaitable[None]]:
        async def on(_args: list[Any]) -> None:
            self.pushes += 1
            self._tell(name)

        return on

    def _tell(self, reason: str) -> None:
        if self.listener is not None:
            self.listener(reason)
