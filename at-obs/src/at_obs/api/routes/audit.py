"""The audit trail over HTTP, plus health and metrics."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from at_obs.bootstrap import Recorder

router = APIRouter(tags=["audit"])


def get_recorder(request: Request) -> Recorder:
    return request.app.state.recorder


RecorderDep = Annotated[Recorder, Depends(get_recorder)]


@router.get("/audit")
async def audit(rec: RecorderDep, correlation_id: str) -> list[dict[str, Any]]:
    """The whole story of one alert, webhook to fill, in recorded order."""
    records = rec.store.by_correlation(correlation_id)
    if not records:
        raise HTTPException(404, f"nothing recorded for correlation_id {correlation_id}")
    return [
        {
            "seq": r.seq,
            "event_type": r.event_type,
            "subject": r.subject,
            "hash": r.hash,
            "prev_hash": r.prev_hash,
            "event": json.loads(r.payload),
        }
        for r in records
    ]


@router.get("/audit/verify")
async def verify(rec: RecorderDep) -> dict[str, Any]:
    """Recompute the hash chain; list every altered, reordered or missing record."""
    problems = rec.store.verify()
    rec.metrics.gauge("audit_chain_ok").set(0 if problems else 1)
    return {"ok": not problems, "records": rec.store.count(), "problems": problems}


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(rec: RecorderDep) -> JSONResponse:
    """Connected to NATS with a consumer on every stream."""
    connected = rec.bus is not None and rec.bus.connected
    ready = rec.ready and connected and all(c.running for c in rec.consumers)
    return JSONResponse(
        {"ready": ready, "nats_connected": connected, "records": rec.store.count()}, 200 if ready else 503
    )


@router.get("/metrics")
async def metrics(rec: RecorderDep) -> Response:
    """Prometheus metrics."""
    return Response(generate_latest(rec.metrics.registry), media_type=CONTENT_TYPE_LATEST)
