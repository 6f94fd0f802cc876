"""The kill switch and resume: state-changing, so each needs an ``operator`` API key."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict

from at_core.service_kit import Scope, require
from at_exec_sim.api.deps import ServiceDep

router = APIRouter(tags=["control"], dependencies=[Depends(require(Scope.OPERATOR))])


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
