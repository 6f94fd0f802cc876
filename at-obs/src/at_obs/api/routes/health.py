"""The recorder's readiness and metrics, served by the kit's ``/healthz``, ``/readyz`` and ``/metrics``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from prometheus_client import CollectorRegistry

from at_core.runtime.bus import Consumer
from at_core.service_kit import Readiness
from at_obs.service import Recorder


async def readiness(rec: Recorder) -> Readiness:
    """Connected to NATS with a running consumer on every stream; the audit log's head shown."""
    connected = rec.bus is not None and rec.bus.connected
    ready = rec.ready and connected and all(c.running for c in rec.consumers)
    head = await asyncio.to_thread(rec.store.head)
    return Readiness(ready, {"nats_connected": connected, "consumers": len(rec.consumers), "head_seq": head.seq})


def registry(rec: Recorder) -> CollectorRegistry:
    return rec.metrics.registry


def consumers(rec: Recorder) -> Sequence[Consumer]:
    return rec.consumers
