"""The gateway's readiness and metrics, served by the kit's ``/healthz``, ``/readyz`` and ``/metrics``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from at_core.service_kit import Readiness
from at_gateway.bootstrap import Gateway


async def readiness(gw: Gateway) -> Readiness:
    """NATS connected, streams present, outbox drained or draining."""
    connected = gw.bus is not None and gw.bus.connected
    checks = {"nats_connected": connected, "streams": gw.streams_ok, "outbox_depth": gw.outbox.depth()}
    return Readiness(connected and gw.streams_ok, checks)


def registry(gw: Gateway) -> CollectorRegistry:
    gw.metrics.gauge("outbox_depth").set(gw.outbox.depth())
    gw.metrics.gauge("dedup_claims_unshared").set(gw.dedup.unshared())
    return gw.metrics.registry


def count_auth_refusal(gw: Gateway, reason: str) -> None:
    gw.metrics.counter("auth_failures_total").labels(reason).inc()
