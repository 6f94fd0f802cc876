"""The audit trail over HTTP: one alert's story, and chain verification."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, HTTPException, Query

from at_obs.api.deps import RecorderDep
from at_obs.domain.chain import causal_order

router = APIRouter(tags=["audit"])


@router.get("/audit")
async def audit(rec: RecorderDep, correlation_id: str = Query(min_length=1, max_length=64)) -> list[dict[str, Any]]:
    """The whole story of one alert, webhook to fill, each event after the one that caused it."""
    records = await asyncio.to_thread(rec.store.by_correlation, correlation_id)
    if not records:
        raise HTTPException(404, f"nothing recorded for correlation_id {correlation_id}")
    return [
        {
            "seq": r.seq,
            "event_id": r.event_id,
            "event_type": r.event_type,
            "causation_id": r.causation_id,
            "subject": r.subject,
            "hash": r.hash,
            "prev_hash": r.prev_hash,
            "event": json.loads(r.payload),
        }
        for r in causal_order(records)
    ]


@router.get("/audit/verify")
async def verify(rec: RecorderDep) -> dict[str, Any]:
    """Recompute the hash chain; list every altered, reordered or missing record."""
    problems = await rec.verify()
    head = await asyncio.to_thread(rec.store.head)
    return {"ok": not problems, "head_seq": head.seq, "head_hash": head.hash, "problems": problems}
