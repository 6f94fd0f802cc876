"""uvicorn's HTTP protocols with a bound on how long a client may take to send its headers.

uvicorn bounds an idle keep-alive connection (``timeout_keep_alive``) but not a request whose
headers trickle in a byte at a time (slowloris): such a connection is held forever. Here every
request's headers must be complete within ``http_read_timeout_s`` of its first byte (or of the
connection opening); the body is bounded by the app (``read_body``).

Both of uvicorn's HTTP/1.1 implementations get the bound: httptools (``uvicorn[standard]``, the
default) and h11 (the fallback when httptools is not installed), so it holds whichever one the
``at-gateway`` console script (every start path: stack/Procfile, the Dockerfile, the bench)
ends up with. A gateway started as ``uvicorn at_gateway.main:create_app --factory`` does not go
through :func:`http_protocol` and has uvicorn's own timeouts only: start it with ``at-gateway``.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from at_gateway.config import GatewaySettings

Implementation = Literal["auto", "httptools", "h11"]


class _HeaderDeadline:
    """The timer: armed when a request may start, disarmed once its headers are complete."""

    header_timeout_s: float
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    _header_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def _httptools(timeout_s: float) -> Any:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class SlowClientGuard(_HeaderDeadline, HttpToolsProtocol):  # type: ignore[misc]
        header_timeout_s = timeout_s

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return SlowClientGuard


def _h11(timeout_s: float) -> Any:
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class SlowClientGuardH11(_HeaderDeadline, H11Protocol):  # type: ignore[misc]
        """h11 parses a request only once its headers are complete (``their_state`` leaves IDLE)."""

        header_timeout_s = timeout_s

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.transport.is_closing():
                return
            if self.conn.their_state is not h11.IDLE:
                self._disarm()  # headers complete: the body is the app's to bound
            elif self._header_timer is None:
                self._arm()  # the first bytes of a next request on a kept-alive connection

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return SlowClientGuardH11


def http_protocol(settings: GatewaySettings, implementation: Implementation = "auto") -> Any:
    """The protocol class for ``uvicorn.Config(http=...)``, with the header bound.

    Args:
        settings: ``http_read_timeout_s`` is the bound.
        implementation: ``auto`` is httptools when installed, else h11 (uvicorn's own choice).
    """
    timeout_s = settings.http_read_timeout_s
    if implementation in ("auto", "httptools"):
        try:
            return _httptools(timeout_s)
        except ImportError:
            if implementation == "httptools":
                raise
    return _h11(timeout_s)
