"""The console's running state: the ledger and tail, the live feed, SSE listeners, the health poll.

Started by the console router's lifespan after the recorder's (so the store is open): it
subscribes to the live feed first and buffers, folds the audit store in a thread, then
applies the buffered events (the ledger ignores an event it has already folded), so nothing
between the store scan and the subscription is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from nats.aio.client import Client

from at_core.metrics import Metrics
from at_core.runtime.logging import get_logger
from at_core.runtime.tasks import stop_task
from at_obs.adapters.audit_store import AuditStore
from at_obs.adapters.console_feed import subscribe_all
from at_obs.adapters.service_probes import HealthSnapshot, poll_health
from at_obs.console_settings import ConsoleSettings
from at_obs.domain.console.auth import LoginThrottle
from at_obs.domain.console.fold import READ_BATCH, fold_records
from at_obs.domain.console.ledger import Ledger
from at_obs.domain.console.tail import Tail

log = get_logger("at_obs.console")
LISTENER_QUEUE = 1000
HEALTH_POLL_S = 5.0


@dataclass
class ConsoleState:
    settings: ConsoleSettings
    #: The recorder's metrics (the ``console_*`` family); None in a test that counts nothing.
    metrics: Metrics | None = None
    ledger: Ledger = field(default_factory=Ledger)
    tail: Tail = field(default_factory=Tail)
    listeners: set[asyncio.Queue[dict[str, Any]]] = field(default_factory=set)
    health: HealthSnapshot = field(default_factory=HealthSnapshot)
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=2.0))
    nc: Client | None = None
    loaded: bool = False
    logins: LoginThrottle = field(default_factory=LoginThrottle)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _buffer: list[dict[str, Any]] = field(default_factory=list)

    def count(self, name: str, *labels: str) -> None:
        """Add one to a ``console_*`` counter (nothing without metrics)."""
        if self.metrics is not None:
            counter = self.metrics.counter(name)
            (counter.labels(*labels) if labels else counter).inc()

    def _listeners_changed(self) -> None:
        if self.metrics is not None:
            self.metrics.gauge("console_stream_listeners").set(len(self.listeners))

    def on_event(self, event: dict[str, Any]) -> None:
        """A live event: into the ledger and tail (or the buffer while the store loads), then to listeners."""
        if not self.loaded:
            self._buffer.append(event)
            return
        self._apply(event)

    def _apply(self, event: dict[str, Any]) -> None:
        self.ledger.apply(event)
        line = self.tail.add(event)
        for queue in list(self.listeners):
            try:
                queue.put_nowait(line)
            except asyncio.QueueFull:  # a slow browser misses lines, never slows the feed
                self.count("console_stream_dropped_total")

    def listen(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(LISTENER_QUEUE)
        self.listeners.add(queue)
        self._listeners_changed()
        return queue

    def unlisten(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self.listeners.discard(queue)
        self._listeners_changed()


async def start(state: ConsoleState, store: AuditStore) -> None:
    """Subscribe, load the store, then poll health; a feed that cannot connect is retried."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per health probe otherwise
    state.tasks.append(asyncio.create_task(_connect_feed(state), name="console-feed"))
    started = time.perf_counter()
    ledger, tail = await asyncio.to_thread(fold_records, store.iter_records(READ_BATCH))
    state.ledger, state.tail = ledger, tail
    state.loaded = True
    if state.metrics is not None:
        state.metrics.gauge("console_loaded").set(1)
    for event in state._buffer:
        state._apply(event)
    state._buffer.clear()
    log.info(
        "console_loaded",
        records=ledger.events_seen,
        accounts=len(ledger.accounts),
        seconds=round(time.perf_counter() - started, 3),
    )
    state.tasks.append(asyncio.create_task(_poll_health(state), name="console-health"))


async def _connect_feed(state: ConsoleState) -> None:
    while state.nc is None:
        try:
            state.nc = await subscribe_all(state.settings, state.on_event)
        except Exception as exc:  # NATS not up yet: the pages still serve the store
            log.warning("console_feed_connect_failed", error=repr(exc))
            await asyncio.sleep(2.0)


async def _poll_health(state: ConsoleState) -> None:
    s = state.settings
    while True:
        try:
            snap = await poll_health(state.http, s.console_health_urls, state.nc, s.prometheus_url, s.alertmanager_url)
            snap.polled_ns = time.time_ns()
            state.health = snap
        except Exception as exc:  # the page shows the last poll; the next one tries again
            log.warning("console_health_poll_failed", error=repr(exc))
        await asyncio.sleep(HEALTH_POLL_S)


async def stop(state: ConsoleState) -> None:
    for task in state.tasks:
        await stop_task(task)
    if state.nc is not None:
        with contextlib.suppress(Exception):
            await state.nc.close()
    await state.http.aclose()
