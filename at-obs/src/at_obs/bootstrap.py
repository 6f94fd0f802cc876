"""Wires the recorder: settings, audit store, metrics, durable consumers on every stream, lag poller."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

from at_core import subjects
from at_core.events import Event
from at_core.metrics import Metrics
from at_core.metrics.obs import CATALOG
from at_core.runtime.bus import Consumer, Delivery, EventBus
from at_core.runtime.logging import get_logger
from at_obs.adapters.audit_store import SqliteAuditStore
from at_obs.config import ObsSettings

log = get_logger("at_obs")


@dataclass
class Recorder:
    settings: ObsSettings
    store: SqliteAuditStore
    metrics: Metrics
    bus: EventBus | None = None
    consumers: list[Consumer] = field(default_factory=list)
    poller: asyncio.Task[None] | None = None
    ready: bool = False

    async def record(self, event: Event, delivery: Delivery) -> None:
        started = time.perf_counter()
        if self.store.append(event, delivery.subject) is not None:
            self.metrics.counter("audit_records_total").labels(event.event_type).inc()
        self.metrics.histogram("audit_append_seconds").observe(time.perf_counter() - started)


def build(settings: ObsSettings) -> Recorder:
    metrics = CATALOG.build()
    store = SqliteAuditStore(settings.audit_db_path)
    metrics.gauge("audit_chain_ok").set(1 if not store.verify() else 0)
    return Recorder(settings, store, metrics)


async def start(rec: Recorder) -> None:
    rec.bus = await EventBus.from_settings(rec.settings, service="obs", metrics=rec.metrics)
    await rec.bus.ensure_streams(replicas=rec.settings.nats_stream_replicas)
    for spec in subjects.STREAMS:
        rec.consumers.append(
            await rec.bus.consume(
                f"{subjects.ROOT}.>", rec.record, durable=f"{rec.settings.durable_prefix}-{spec.name}", stream=spec.name
            )
        )
    rec.poller = asyncio.create_task(poll_jetstream(rec), name="jetstream-poller")
    rec.ready = True


async def poll_jetstream(rec: Recorder) -> None:
    """Export stream sizes and consumer lag read from the JetStream API (no exporter needed)."""
    m = rec.metrics
    while True:
        with contextlib.suppress(Exception):
            assert rec.bus is not None
            for spec in subjects.STREAMS:
                info = await rec.bus.js.stream_info(spec.name)
                m.gauge("jetstream_stream_messages").labels(spec.name).set(info.state.messages)
                m.gauge("jetstream_stream_bytes").labels(spec.name).set(info.state.bytes)
                for consumer in await rec.bus.js.consumers_info(spec.name):
                    name = consumer.name
                    m.gauge("jetstream_consumer_pending").labels(spec.name, name).set(consumer.num_pending or 0)
                    m.gauge("jetstream_consumer_ack_pending").labels(spec.name, name).set(consumer.num_ack_pending or 0)
                    m.gauge("jetstream_consumer_redelivered").labels(spec.name, name).set(consumer.num_redelivered or 0)
        await asyncio.sleep(rec.settings.jetstream_poll_s)


async def stop(rec: Recorder) -> None:
    rec.ready = False
    if rec.poller is not None:
        rec.poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await rec.poller
    if rec.bus is not None:
        await rec.bus.close()
    rec.store.close()
