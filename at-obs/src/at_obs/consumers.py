"""The recorder's inputs wired to its handlers (``service.py``): a durable consumer per stream,
the JetStream statistics poller and the chain's re-verification."""

from __future__ import annotations

import asyncio

from at_core import subjects
from at_core.runtime.logging import get_logger
from at_obs.bootstrap import start as start_service
from at_obs.config import ObsSettings
from at_obs.errors import AuditStoreError
from at_obs.service import Recorder

log = get_logger("at_obs")
#: JetStream's "no limit" for redeliveries.
UNLIMITED = -1


def durable_name(settings: ObsSettings, stream: subjects.StreamSpec) -> str:
    """The recorder's durable on ``stream`` (``AT_OBS_DURABLE_PREFIX``-<stream>)."""
    return f"{settings.durable_prefix}-{stream.name}"


async def start(rec: Recorder) -> None:
    """Verify and connect (``bootstrap.start``), then one durable consumer per stream, and the timers."""
    await start_service(rec)
    assert rec.bus is not None
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
                linger_s=rec.settings.fetch_linger_s,  # off the order path: fewer, larger batches
            )
        )
    rec.tasks.append(asyncio.create_task(run_jetstream_poller(rec), name="jetstream-poller"))
    rec.tasks.append(asyncio.create_task(run_verifier(rec), name="audit-verifier"))
    rec.ready = True
    log.info("recorder_started", store=rec.store.location, streams=[s.name for s in subjects.STREAMS])


async def run_jetstream_poller(rec: Recorder) -> None:
    """Export JetStream's statistics every ``jetstream_poll_s``; a failed poll is logged, not fatal."""
    while True:
        try:
            await rec.export_stats()
        except Exception as exc:  # a poll must never end the loop; lag alerts need the next one
            log.warning("jetstream_poll_failed", error=repr(exc))
        await asyncio.sleep(rec.settings.jetstream_poll_s)


async def run_verifier(rec: Recorder) -> None:
    """Re-verify the whole chain every ``verify_interval_s``."""
    while True:
        await asyncio.sleep(rec.settings.verify_interval_s)
        try:
            await rec.verify()
        except AuditStoreError as exc:
            log.warning("audit_verify_failed", error=str(exc))
