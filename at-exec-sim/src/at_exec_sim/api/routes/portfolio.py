"""Positions, orders, fills and account state (read through the engine's query view)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from at_exec_sim.api.deps import QueryDep, ServiceDep

router = APIRouter(tags=["portfolio"])


@router.get("/positions")
async def positions(query: QueryDep, account_id: str | None = None) -> list[dict[str, Any]]:
    """Open and closed positions, per account and instrument."""
    return query.positions(account_id)


@router.get("/orders")
async def orders(
    svc: ServiceDep, query: QueryDep, account_id: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Most recent orders first; ``unknown`` = its state at the broker awaits reconciliation."""
    rows = query.orders(account_id)
    unknown = svc.venues.unknown
    return [
        {
            "client_order_id": r.client_order_id,
            "account_id": r.account_id,
            "instrument_id": r.instrument_id,
            "strategy_id": r.strategy_id,
            "status": "unknown" if r.client_order_id in unknown else r.status,
            "venue": r.venue,
            "venue_order_id": r.venue_order_id,
            "unknown_reason": unknown[r.client_order_id].reason if r.client_order_id in unknown else None,
            "order": r.spec.model_dump(mode="json"),
            "filled_quantity": str(r.filled),
            "avg_price": str(r.avg_price) if r.avg_price is not None else None,
            "parent_client_order_id": r.parent_client_order_id,
            "bracket_role": r.bracket_role,
        }
        for r in reversed(rows)
    ][:limit]


@router.get("/fills")
async def fills(query: QueryDep, account_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Most recent fills first."""
    return [f.model_dump(mode="json") for f in reversed(query.fills(account_id))][:limit]


@router.get("/account")
async def account(query: QueryDep, svc: ServiceDep, account_id: str | None = None) -> list[dict[str, Any]]:
    """Balances, equity, P&L, trading state, the headroom left to each rule, and any broker mismatch."""
    out = [
        {
            "account_id": a.account_id,
            "currency": a.currency,
            "balance": str(a.balance),
            "equity": str(a.equity) if a.equity is not None else None,
            "realized_pnl_today": str(a.realized_pnl_today),
            "fees_today": str(a.fees_today),
            "trading_state": a.trading_state,
            "state": a.state,  # kind (active, lock, breach, halt), rule, since, lifts_at, operator_action
            "locked_until": a.state["lifts_at"],
            "profile_id": a.profile_id,
            "profile_version": a.profile_version,
            "headroom": a.headroom,
            "unbooked_pnl": {ccy: str(v) for ccy, v in a.unbooked_pnl.items()},  # awaiting a rate
            "conversion_missing": a.conversion_missing,  # fail closed: no new risk until a rate is known
            "broker_mismatch": svc.mismatches.get(a.account_id),  # positions differ from the broker's
        }
        for a in query.accounts(account_id)
    ]
    if account_id and not out:
        raise HTTPException(404, f"unknown account {account_id}")
    return out
