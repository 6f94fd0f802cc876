"""The agents' readiness and metrics, served by the kit's ``/healthz``, ``/readyz`` and ``/metrics``."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry

from at_agents.service import AgentsService
from at_core.runtime.bus import Consumer
from at_core.service_kit import Readiness


async def readiness(svc: AgentsService) -> Readiness:
    """Connected to NATS with every consumer running."""
    connected = svc.bus is not None and svc.bus.connected
    ready = svc.ready and connected and all(c.running for c in svc.consumers)
    return Readiness(ready, {"nats_connected": connected})


def registry(svc: AgentsService) -> CollectorRegistry:
    return svc.metrics.registry


def consumers(svc: AgentsService) -> Sequence[Consumer]:
    return svc.consumers
