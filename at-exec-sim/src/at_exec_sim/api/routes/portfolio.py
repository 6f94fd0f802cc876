"""Positions, orders, fills and account state."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from at_exec_sim.api.deps import ServiceDep
from at_exec_sim.domain.held_pnl import missing_conversion
from at_exec_sim.domain.portfolio import MissingRate

router = APIRouter(tags=["portfolio"])


@router.get("/positions")
async def positions(svc: ServiceDep, account_id: str | None = None) -> list[dict[str, Any]]:
    """Open and closed positions, per account and instrument."""
    out = []
    for rt in svc.engine.accounts.values():
        if account_id and rt.account.account_id != account_id:
            continue
        for pos in rt.account.positions.values():
            out.append(rt.account.snapshot(pos, svc.engine.rates).model_dump(mode="json"))
    return out


@router.get("/orders")
async def orders(svc: ServiceDep, account_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Most recent orders first; ``unknown`` = its state at the broker awaits reconciliation."""
    rows = [r for r in svc.engine.orders.values() if not account_id or r.account_id == account_id]
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
        }
        for r in reversed(rows)
    ][:limit]


@router.get("/fills")
async def fills(svc: ServiceDep, account_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Most recent fills first."""
    rows = [f for f in svc.engine.fills if not account_id or f.account_id == account_id]
    return [f.model_dump(mode="json") for f in reversed(rows)][:limit]


@router.get("/account")
async def account(svc: ServiceDep, account_id: str | None = None) -> list[dict[str, Any]]:
    """Balances, equity, P&L, trading state and the headroom left to each rule."""
    out = []
    for rt in svc.engine.accounts.values():
        if account_id and rt.account.account_id != account_id:
            continue
        try:
            equity: Any = str(rt.account.equity(svc.engine.rates))
            headroom = [
                h.model_dump(mode="json")
                for h in rt.rules.headroom(rt.account.balance, rt.account.equity(svc.engine.rates))
            ]
        except MissingRate as exc:
            equity, headroom = None, [{"error": str(exc)}]
        out.append(
            {
                "account_id": rt.account.account_id,
                "currency": rt.account.currency,
                "balance": str(rt.account.balance),
                "equity": equity,
                "realized_pnl_today": str(rt.account.realized_today),
                "fees_today": str(rt.account.fees_today),
                "trading_state": rt.state,
                "profile_id": rt.config.profile.profile_id,
                "profile_version": rt.config.profile.version,
                "headroom": headroom,
                "unbooked_pnl": {ccy: str(v) for ccy, v in rt.account.unbooked.items()},  # awaiting a rate
                "conversion_missing": missing_conversion(rt.account, svc.engine.rates),  # fail closed: no new risk
            }
        )
    if account_id and not out:
        raise HTTPException(404, f"unknown account {account_id}")
    return out
