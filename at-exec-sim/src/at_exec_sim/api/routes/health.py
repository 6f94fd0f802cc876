"""exec-sim's readiness and metrics, served by the kit's ``/healthz``, ``/readyz`` and ``/metrics``."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry

from at_core.runtime.bus import Consumer
from at_core.service_kit import Readiness
from at_exec_sim.bootstrap import ExecSim


async def readiness(svc: ExecSim) -> Readiness:
    """Connected to NATS, state recovered, consumers running; venues and unknown orders shown (not gating)."""
    connected = svc.bus is not None and svc.bus.connected
    ready = svc.ready and connected and all(c.running for c in svc.consumers)
    # A broker being down does not make exec-sim unready: the kill switch must stay reachable.
    venues = {name: link.connected for name, link in svc.venues.links.items()}
    unknown = len(svc.venues.unknown)
    return Readiness(
        ready,
        {
            "nats_connected": connected,
            "recovered_events": svc.recovered,
            "venues_connected": venues,
            "unknown_orders": unknown,
            "unpublished_events": len(svc.outbox),  # produced, waiting for JetStream to take them
            "degraded": unknown > 0 or bool(svc.outbox) or not all(venues.values()),
        },
    )


def registry(svc: ExecSim) -> CollectorRegistry:
    return svc.metrics.registry


def consumers(svc: ExecSim) -> Sequence[Consumer]:
    return svc.consumers
