"""Wires the recorder: settings, audit store, metrics (``build``); the chain verified and the bus
connected (``start``); and the shutdown (``stop``). The handlers are ``service.py``'s, the
consumers and timers ``consumers.py``'s."""

from __future__ import annotations

import asyncio

from at_core.constants import SERVICE_OBS
from at_core.metrics.obs import CATALOG
from at_core.runtime.bus import EventBus
from at_core.runtime.tasks import stop_task
from at_obs.adapters.audit_store import open_audit_store
from at_obs.config import ObsSettings
from at_obs.service import Recorder

__all__ = ["Recorder", "build", "start", "stop"]


def build(settings: ObsSettings) -> Recorder:
    """Open the store and build the metrics; nothing touches NATS yet."""
    metrics = CATALOG.build()
    store = open_audit_store(settings.audit_location, synchronous=settings.audit_sqlite_synchronous)
    metrics.gauge("audit_head_seq").set(store.head().seq)
    return Recorder(settings, store, metrics)


async def start(rec: Recorder) -> None:
    """Verify the chain, connect and check the streams exist."""
    await rec.verify()
    rec.bus = await EventBus.from_settings(rec.settings, service=SERVICE_OBS, metrics=rec.metrics)
    await rec.bus.ensure_streams(replicas=rec.settings.nats_stream_replicas)


async def stop(rec: Recorder) -> None:
    """Stop the timers, close the bus (its consumers first), then the writer and the store."""
    rec.ready = False
    for task in rec.tasks:
        await stop_task(task)
    if rec.bus is not None:
        await rec.bus.close()
    await asyncio.to_thread(rec.writer.stop)  # what it holds is committed (acks were lost with the bus)
    rec.store.close()
