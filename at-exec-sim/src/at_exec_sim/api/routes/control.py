"""The kill switch and resume, plus health and metrics."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict

from at_exec_sim.api.deps import ServiceDep

router = APIRouter(tags=["control"])


class KillSwitch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_id: str | None = None
    flatten: bool = False


class Resume(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_id: str


@router.post("/kill-switch")
async def kill_switch(svc: ServiceDep, body: KillSwitch) -> dict:
    """Halt new orders (one account, or all), cancel orders resting at brokers; optionally flatten."""
    if body.account_id and not svc.query.has_account(body.account_id):
        raise HTTPException(404, f"unknown account {body.account_id}")
    events = await svc.kill_switch(body.account_id, body.flatten)
    return {"status": "halted", "events": [e.event_id for e in events]}


@router.post("/resume")
async def resume(svc: ServiceDep, body: Resume) -> dict:
    """Lift a halt on one account."""
    if not svc.query.has_account(body.account_id):
        raise HTTPException(404, f"unknown account {body.account_id}")
    events = await svc.resume(body.account_id)
    return {"status": "active", "events": [e.event_id for e in events]}


@router.get("/healthz")
async def healthz() -> dict:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(svc: ServiceDep) -> JSONResponse:
    """Connected to NATS, state recovered, consumers running; venues and unknown orders shown (not gating)."""
    connected = svc.bus is not None and svc.bus.connected
    ready = svc.ready and connected and all(c.running for c in svc.consumers)
    # A broker being down does not make exec-sim unready: the kill switch must stay reachable.
    venues = {name: link.connected for name, link in svc.venues.links.items()}
    unknown = len(svc.venues.unknown)
    body = {
        "ready": ready,
        "nats_connected": connected,
        "recovered_events": svc.recovered,
        "venues_connected": venues,
        "unknown_orders": unknown,
        "unpublished_events": len(svc.outbox),  # produced, waiting for JetStream to take them
        "degraded": unknown > 0 or bool(svc.outbox) or not all(venues.values()),
    }
    return JSONResponse(body, 200 if ready else 503)


@router.get("/metrics")
async def metrics(svc: ServiceDep) -> Response:
    """Prometheus metrics."""
    return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)
