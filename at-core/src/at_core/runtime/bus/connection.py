"""Opening and closing one NATS connection: the service's inbox prefix, a bounded first attempt,
the configured reconnect policy once connected, and the connection state on a gauge."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

import nats
from nats.aio.client import Client as NatsClient

from at_core import subjects
from at_core.metrics.catalog import Metrics
from at_core.runtime.bus.errors import BusError
from at_core.runtime.logging import get_logger

log = get_logger("at_core.bus")

#: How long each step of closing (unsubscribe, drain, close) may take before it is abandoned.
CLOSE_STEP_TIMEOUT_S = 5.0
#: The inbox prefix of a service's connection is ``_INBOX.<service>``: each NATS user may
#: subscribe only to its own replies (see :mod:`at_core.permissions`), never to another's.
INBOX_ROOT = "_INBOX"


def inbox_prefix(service: str) -> str:
    """The inbox prefix a service's connection uses (replies and pull deliveries come there)."""
    return f"{INBOX_ROOT}.{subjects.escape_token(service)}"


@dataclass(frozen=True, slots=True)
class ConnectOptions:
    """How to reach NATS and how to behave once connected."""

    servers: Sequence[str] | str
    service: str
    user: str | None = None
    password: str | None = None
    connect_timeout: float = 2.0
    max_reconnect_attempts: int = -1
    reconnect_time_wait: float = 0.5
    #: Keep retrying the *first* connection for this long (a service started before its server).
    initial_connect_deadline_s: float = 0.0

    @property
    def server_list(self) -> list[str]:
        return [self.servers] if isinstance(self.servers, str) else list(self.servers)


async def open_connection(options: ConnectOptions, metrics: Metrics) -> NatsClient:
    """Connect, retrying the first connection until its deadline; connection state goes to a gauge.

    Raises:
        BusError: the first connection could not be made in time.
    """
    deadline = time.monotonic() + options.initial_connect_deadline_s
    while True:
        try:
            nc = await _connect_once(options, metrics)
            break
        except BusError:
            if time.monotonic() >= deadline:
                raise
            log.warning("nats_connect_retry", servers=str(options.servers))
            await asyncio.sleep(0.5)
    metrics.gauge("nats_connected").set(1)
    return nc


async def _connect_once(options: ConnectOptions, metrics: Metrics) -> NatsClient:
    connected = metrics.gauge("nats_connected")
    reconnects = metrics.counter("nats_reconnects_total")

    async def on_disconnect() -> None:
        connected.set(0)
        log.warning("nats_disconnected")

    async def on_reconnect() -> None:
        connected.set(1)
        reconnects.inc()
        log.info("nats_reconnected")

    async def on_error(exc: Exception) -> None:
        log.warning("nats_error", error=str(exc))

    try:
        nc = await nats.connect(
            servers=options.server_list,
            name=options.service,
            inbox_prefix=inbox_prefix(options.service),
            user=options.user,
            password=options.password,
            connect_timeout=options.connect_timeout,
            # nats-py >= 2.16 retries a failed *first* connection forever when reconnects are
            # unbounded; the first attempt is bounded here (the caller's deadline loop retries),
            # and the configured reconnect policy applies once connected.
            max_reconnect_attempts=1,
            reconnect_time_wait=options.reconnect_time_wait,
            allow_reconnect=True,
            disconnected_cb=on_disconnect,
            reconnected_cb=on_reconnect,
            error_cb=on_error,
        )
    except Exception as exc:  # nats raises several unrelated types here
        raise BusError(f"cannot connect to NATS at {options.servers}: {exc}") from exc
    nc.options["max_reconnect_attempts"] = options.max_reconnect_attempts
    return nc


async def close_connection(nc: NatsClient, metrics: Metrics) -> None:
    """Flush and close; bounded, so a lost server cannot hang a shutdown."""
    try:  # drain flushes what was published
        await asyncio.wait_for(nc.drain(), CLOSE_STEP_TIMEOUT_S)
    except Exception as exc:  # TimeoutError, or reconnecting: close without draining
        log.warning("nats_drain_failed", error=repr(exc))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(nc.close(), CLOSE_STEP_TIMEOUT_S)
    metrics.gauge("nats_connected").set(0)
