"""Risk decisions: every proposal and manual order exec-sim decided, approved or denied with reasons."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from at_exec_sim.api.deps import QueryDep

router = APIRouter(tags=["decisions"])


@router.get("/decisions")
async def decisions(
    query: QueryDep,
    account_id: str | None = None,
    approved: bool | None = Query(None, description="true: approvals only; false: denials only"),
    limit: int = Query(200, ge=1, le=5000),
) -> list[dict[str, Any]]:
    """Most recent risk decisions first: approved or denied, the reasons, and the price they used."""
    rows = query.decisions(account_id, approved)
    return [
        {
            "event_id": d.event_id,
            "correlation_id": d.correlation_id,
            "ts_event": d.ts_event,
            "account_id": d.account_id,
            "instrument_id": d.instrument_id,
            "request_event_id": d.request_event_id,
            "approved": d.approved,
            "client_order_id": d.client_order_id,
            "order": d.order.model_dump(mode="json"),
            "reasons": [r.model_dump(mode="json") for r in d.reasons],
            "price_source": d.price_source.value if d.price_source else None,  # null: market data
            "mark_price": str(d.mark_price) if d.mark_price is not None else None,
            "profile_id": d.profile_id,
        }
        for d in reversed(rows)
    ][:limit]
