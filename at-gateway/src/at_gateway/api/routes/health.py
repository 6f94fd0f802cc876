"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from at_gateway.api.deps import GatewayDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(gw: GatewayDep) -> JSONResponse:
    """NATS connected, streams present, outbox drained or draining."""
    connected = gw.bus is not None and gw.bus.connected
    depth = gw.outbox.depth()
    ready = connected and gw.streams_ok
    body = {"ready": ready, "nats_connected": connected, "streams": gw.streams_ok, "outbox_depth": depth}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics(gw: GatewayDep) -> Response:
    """Prometheus metrics."""
    gw.metrics.gauge("outbox_depth").set(gw.outbox.depth())
    return Response(generate_latest(gw.metrics.registry), media_type=CONTENT_TYPE_LATEST)
