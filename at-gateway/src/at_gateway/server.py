"""uvicorn's HTTP protocol with a bound on how long a client may take to send its headers.

uvicorn bounds an idle keep-alive connection (``timeout_keep_alive``) but not a request whose
headers trickle in a byte at a time (slowloris): such a connection is held forever. Here every
request's headers must be complete within ``http_read_timeout_s`` of its first byte (or of the
connection opening); the body is bounded by the app (``read_body``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from at_gateway.config import GatewaySettings


def http_protocol(settings: GatewaySettings) -> Any:
    """The protocol class for ``uvicorn.Config(http=...)``: httptools with the header bound."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # httptools missing: uvicorn's h11 (idle keep-alive bound only)
        return "auto"

    class SlowClientGuard(HttpToolsProtocol):  # type: ignore[misc]
        header_timeout_s = settings.http_read_timeout_s
        _header_timer: asyncio.TimerHandle | None = None

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

    return SlowClientGuard
