"""Wires the recorder: settings, audit store, metrics, a durable consumer per stream, pollers."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from at_core import subjects
from at_core.constants import SERVICE_OBS
from at_core.events import Event
from at_core.metrics import Metrics
from at_core.metrics.obs import CATALOG
from at_core.runtime.bus import Consumer, Delivery, EventBus
from at_core.runtime.logging import get_logger
from at_obs.adapters.audit_store import AuditStore, open_audit_store, verify_store
from at_obs.adapters.jetstream_stats import export_jetstream_stats
from at_obs.config import ObsSettings
from at_obs.errors import AuditStoreError

log = get_logger("at_obs")
#: JetStream's "no limit" for redeliveries.
UNLIMITED = -1


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


def durable_name(settings: ObsSettings, stream: subjects.StreamSpec) -> str:
    return f"{settings.durable_prefix}-{stream.name}"


def build(settings: ObsSettings) -> Recorder:
    """Open the store and build the metrics; nothing touches NATS yet."""
    metrics = CATALOG.build()
    store = open_audit_store(settings.audit_location)
    metrics.gauge("audit_head_seq").set(store.head().seq)
    return Recorder(settings, store, metrics)


async def start(rec: Recorder) -> None:
    """Verify the chain, connect, create the streams, and start one durable consumer per stream."""
    await rec.verify()
    rec.bus = await EventBus.from_settings(rec.settings, service=SERVICE_OBS, metrics=rec.metrics)
    await rec.bus.ensure_streams(replicas=rec.settings.nats_stream_replicas)
    for spec in subjects.STREAMS:
        # Filter ``at.>``: everything the stream captures, whatever subjects it gains later.
        rec.consumers.append(
            await rec.bus.consume_batches(
                subjects.ALL,
                rec.record_many,
                durable=durable_name(rec.settings, spec),
                stream=spec.name,
                max_deliver=UNLIMITED,  # a store outage delays the audit log, never leaves a gap in it
                deliver_misrouted=True,  # kept as evidence; at-audit-verify flags them
            )
        )
    rec.tasks.append(asyncio.create_task(_poll_jetstream(rec), name="jetstream-poller"))
    rec.tasks.append(asyncio.create_task(_reverify(rec), name="audit-verifier"))
    rec.ready = True
    log.info("recorder_started", store=rec.store.location, streams=[s.name for s in subjects.STREAMS])


async def _poll_jetstream(rec: Recorder) -> None:
    while True:
        if rec.bus is not None:
            try:
                await export_jetstream_stats(rec.bus.js, rec.metrics)
            except Exception as exc:  # a poll must never end the loop; lag alerts need the next one
                log.warning("jetstream_poll_failed", error=repr(exc))
        await asyncio.sleep(rec.settings.jetstream_poll_s)


async def _reverify(rec: Recorder) -> None:
    while True:
        await asyncio.sleep(rec.settings.verify_interval_s)
        try:
            await rec.verify()
        except AuditStoreError as exc:
            log.warning("audit_verify_failed", error=str(exc))


async def stop(rec: Recorder) -> None:
    rec.ready = False
    for task in rec.tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if rec.bus is not None:
        await rec.bus.close()
    rec.store.close()
