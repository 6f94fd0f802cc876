"""The console's running state: the ledger and tail, the live feed, SSE listeners, the health poll.

The live feed is what the recorder commits (:attr:`Recorder.record_listeners`, on the event
loop, each transaction's records in ``seq`` order): the console shows what is in the record,
as a restarted console reads it back, and the events the consumers fetched are not received
or decoded a second time. Started by the console router's lifespan after the recorder's (so
the store is open): it listens first and buffers, folds the audit store in a thread, then
applies the buffered records newer than the fold, so nothing between the two is lost or
shown twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from nats.aio.client import Client

from at_core.metrics import Metrics
from at_core.runtime.logging import get_logger
from at_core.runtime.tasks import stop_task
from at_obs.adapters.audit_store import AuditStore
from at_obs.adapters.service_probes import HealthSnapshot, poll_health
from at_obs.console_settings import ConsoleSettings
from at_obs.domain.chain import AuditRecord
from at_obs.domain.console.auth import LoginThrottle
from at_obs.domain.console.fold import READ_BATCH, fold_record, fold_records
from at_obs.domain.console.ledger import Ledger
from at_obs.domain.console.payload import decode_payload
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
    #: The recorder's NATS connection, for the consumer lag on the health page (None while it has none).
    nats: Callable[[], Client | None] = lambda: None
    loaded: bool = False
    logins: LoginThrottle = field(default_factory=LoginThrottle)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _buffer: list[AuditRecord] = field(default_factory=list)

    def count(self, name: str, *labels: str) -> None:
        """Add one to a ``console_*`` counter (nothing without metrics)."""
        if self.metrics is not None:
            counter = self.metrics.counter(name)
            (counter.labels(*labels) if labels else counter).inc()

    def _listeners_changed(self) -> None:
        if self.metrics is not None:
            self.metrics.gauge("console_stream_listeners").set(len(self.listeners))

    def on_recorded(self, records: list[AuditRecord]) -> None:
        """Records just committed: into the ledger and tail (or the buffer while the store loads)."""
        if not self.loaded:
            self._buffer.extend(records)
            return
        for record in records:
            self._apply(record)

    def _apply(self, record: AuditRecord) -> None:
        """Fold one record; decode it only if the ledger reads it or a browser follows the tail."""
        event = fold_record(self.ledger, record)
        if event is None and not self.listeners:
            self.tail.add_raw(record.payload)  # decoded if a page shows it
            return
        line = self.tail.add(event if event is not None else decode_payload(record.payload))
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
    """Load the store (the caller listens to the recorder first), then poll health."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per health probe otherwise
    started = time.perf_counter()
    ledger, tail = await asyncio.to_thread(fold_records, store.iter_records(READ_BATCH))
    state.ledger, state.tail = ledger, tail
    state.loaded = True
    if state.metrics is not None:
        state.metrics.gauge("console_loaded").set(1)
    for record in state._buffer:
        if record.seq > ledger.last_seq:  # older ones were committed before the fold read them
            state._apply(record)
    state._buffer.clear()
    log.info(
        "console_loaded",
        records=ledger.events_seen,
        accounts=len(ledger.accounts),
        seconds=round(time.perf_counter() - started, 3),
    )
    state.tasks.append(asyncio.create_task(_poll_health(state), name="console-health"))


async def _poll_health(state: ConsoleState) -> None:
    s = state.settings
    while True:
        try:
            snap = await poll_health(
                state.http, s.console_health_urls, state.nats(), s.prometheus_url, s.alertmanager_url
            )
            snap.polled_ns = time.time_ns()
            state.health = snap
        except Exception as exc:  # the page shows the last poll; the next one tries again
            log.warning("console_health_poll_failed", error=repr(exc))
        await asyncio.sleep(HEALTH_POLL_S)


async def stop(state: ConsoleState) -> None:
    for task in state.tasks:
        await stop_task(task)
    await state.http.aclose()
