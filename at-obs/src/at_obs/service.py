"""The recorder's service layer: one handler per input, publishing nothing (the audit trail is its output).

Inputs (``consumers.py``): every event of every stream, in fetched batches, appended to the
hash-chained store; the timers' JetStream statistics and re-verification of the chain.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from at_core.events import Event
from at_core.metrics import Metrics
from at_core.runtime.bus import Consumer, Delivery, EventBus
from at_core.runtime.logging import get_logger
from at_obs.adapters.audit_store import AuditStore, verify_store
from at_obs.adapters.jetstream_stats import export_jetstream_stats
from at_obs.config import ObsSettings
from at_obs.errors import AuditStoreError

log = get_logger("at_obs")


@dataclass
class Recorder:
    """The running recorder: its store, metrics, bus connection and background tasks."""

    settings: ObsSettings
    store: AuditStore
    metrics: Metrics
    bus: EventBus | None = None
    consumers: list[Consumer] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    ready: bool = False

    async def record(self, event: Event, delivery: Delivery) -> None:
        """Append one event (see :meth:`record_many`)."""
        await self.record_many([(event, delivery)])

    async def record_many(self, items: Sequence[tuple[Event, Delivery]]) -> None:
        """Consumer handler: append a fetched batch in one transaction, then the bus acks it.

        A failed append raises, so the bus naks the batch and JetStream redelivers it: nothing
        is acked that is not durable in the store. One commit per batch instead of per event
        is what lets the recorder keep up with a burst on a small machine.
        """
        started = time.perf_counter()
        try:
            records = await asyncio.to_thread(self.store.append_many, [(e, d.subject) for e, d in items])
        except AuditStoreError:
            self.metrics.counter("audit_append_errors_total").inc()
            raise
        for record in records:
            self.metrics.counter("audit_records_total").labels(record.event_type).inc()
        if records:
            self.metrics.gauge("audit_head_seq").set(records[-1].seq)
        self.metrics.histogram("audit_append_seconds").observe(time.perf_counter() - started)

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
