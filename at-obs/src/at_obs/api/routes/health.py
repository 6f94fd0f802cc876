"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from at_obs.api.deps import RecorderDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(rec: RecorderDep) -> JSONResponse:
    """Connected to NATS with a running consumer on every stream."""
    connected = rec.bus is not None and rec.bus.connected
    ready = rec.ready and connected and all(c.running for c in rec.consumers)
    head = await asyncio.to_thread(rec.store.head)
    return JSONResponse(
        {"ready": ready, "nats_connected": connected, "consumers": len(rec.consumers), "head_seq": head.seq},
        200 if ready else 503,
    )


@router.get("/metrics")
async def metrics(rec: RecorderDep) -> Response:
    """Prometheus metrics."""
    return Response(generate_latest(rec.metrics.registry), media_type=CONTENT_TYPE_LATEST)
