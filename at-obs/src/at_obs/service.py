"""The recorder's service layer: one handler per input, publishing nothing (the audit trail is its output).

Inputs (``consumers.py``): every event of every stream, in fetched batches, appended to the
hash-chained store; the timers' JetStream statistics and re-verification of the chain.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from at_core.events import Event
from at_core.metrics import Metrics
from at_core.runtime.bus import Consumer, Delivery, EventBus
from at_core.runtime.logging import get_logger
from at_obs.adapters.audit_store import AuditStore, verify_store
from at_obs.adapters.audit_writer import AuditWriter
from at_obs.adapters.jetstream_stats import export_jetstream_stats
from at_obs.config import ObsSettings
from at_obs.domain.chain import AuditRecord
from at_obs.errors import AuditStoreError

log = get_logger("at_obs")


@dataclass
class Recorder:
    """The running recorder: its store and writer, metrics, bus connection and background tasks."""

    settings: ObsSettings
    store: AuditStore
    metrics: Metrics
    bus: EventBus | None = None
    consumers: list[Consumer] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    ready: bool = False
    #: Told each committed transaction's records on the event loop (the console's live feed).
    record_listeners: list[Callable[[list[AuditRecord]], None]] = field(default_factory=list)
    writer: AuditWriter = field(init=False)

    def __post_init__(self) -> None:
        self.writer = AuditWriter(
            self.store,
            linger_s=self.settings.audit_commit_linger_s,
            on_commit=self._committed,
            on_error=self._failed,
            on_recorded=self._recorded,
        )

    async def record(self, event: Event, delivery: Delivery) -> None:
        """Append one event (see :meth:`record_many`)."""
        await self.record_many([(event, delivery)])

    async def record_many(self, items: Sequence[tuple[Event, Delivery]]) -> None:
        """Consumer handler: append a fetched batch, then the bus acks it.

        The writer commits it together with the other streams' batches of the moment (one
        transaction, see :class:`AuditWriter`); this returns once that transaction is
        committed. A failed append raises, so the bus naks the batch and JetStream
        redelivers it: nothing is acked that is not durable in the store.
        """
        await self.writer.append([(e, d.subject) for e, d in items])

    def _committed(self, records: list[AuditRecord], seconds: float) -> None:
        """Per transaction, in the writer's thread: the records' metrics."""
        for event_type, n in Counter(r.event_type for r in records).items():
            self.metrics.counter("audit_records_total").labels(event_type).inc(n)
        if records:
            self.metrics.gauge("audit_head_seq").set(records[-1].seq)
        self.metrics.histogram("audit_append_seconds").observe(seconds)

    def _recorded(self, records: list[AuditRecord]) -> None:
        """Per committed transaction, on the event loop before its batches are acked: the listeners."""
        for listener in self.record_listeners:
            listener(records)

    def _failed(self, exc: Exception) -> None:
        """Per failed transaction, in the writer's thread (the bus logs and naks each batch in it)."""
        if isinstance(exc, AuditStoreError):
            self.metrics.counter("audit_append_errors_total").inc()

    async def verify(self) -> list[str]:
        """Verify the whole chain (off the event loop) and export the result."""
        problems = await asyncio.to_thread(verify_store, self.store)
        self.metrics.gauge("audit_chain_ok").set(0 if problems else 1)
        if problems:
            log.error("audit_chain_broken", problems=problems[:20], count=len(problems))
        return problems

    async def export_stats(self) -> None:
        """Export JetStream's view of every stream and consumer (lag, pending) as gauges."""
        if self.bus is not None:
            await export_jetstream_stats(self.bus.js, self.metrics)
