"""External venues: their health, the orders whose state there is unknown, and the brokers' own view."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from at_exec_sim.api.deps import ServiceDep
from at_exec_sim.errors import VenueUnavailableError

router = APIRouter(tags=["venues"])


@router.get("/venues")
async def venues(svc: ServiceDep) -> list[dict[str, Any]]:
    """Each configured external venue: connected, instruments loaded, last error, unknown orders."""
    out = []
    for name, link in svc.venues.links.items():
        unknown = [u for u in svc.venues.unknown.values() if u.venue == name]
        out.append(
            {
                "venue": name,
                "connected": link.connected,
                "instruments": link.instruments,
                "last_error": link.last_error,
                "unknown_orders": [
                    {
                        "client_order_id": u.client_order_id,
                        "account_id": u.account_id,
                        "instrument_id": u.instrument_id,
                        "reason": u.reason,
                        "since_ns": u.since_ns,
                    }
                    for u in unknown
                ],
            }
        )
    return out


@router.get("/venues/{venue}/positions")
async def broker_positions(svc: ServiceDep, venue: str) -> list[dict[str, Any]]:
    """Open positions as the broker sees them (compare with ``GET /positions`` to reconcile)."""
    link = svc.venues.links.get(venue)
    if link is None:
        raise HTTPException(404, f"unknown venue {venue}")
    try:
        positions = await link.adapter.positions()
    except VenueUnavailableError as exc:
        raise HTTPException(503, str(exc)) from exc
    return [
        {
            "instrument_id": p.instrument_id,
            "quantity": str(p.quantity),
            "avg_price": str(p.avg_price) if p.avg_price is not None else None,
        }
        for p in positions
    ]
