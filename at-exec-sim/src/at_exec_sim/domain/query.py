"""A read-only view of the engine's state, for the API: positions, orders, fills and accounts.

The routes read this, never the engine's cache: what they show is built here, as plain data,
and nothing here writes state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from at_core.events import FillEvent, RiskDecisionEvent
from at_core.models.enums import TradingState
from at_exec_sim.domain.core import EngineCache
from at_exec_sim.domain.held_pnl import missing_conversion
from at_exec_sim.domain.ledger import Ledger
from at_exec_sim.domain.records import OrderRecord
from at_exec_sim.domain.state_view import explain


@dataclass(frozen=True, slots=True)
class AccountView:
    """One account as ``GET /account`` shows it; ``equity`` None (and ``headroom`` the error) without an FX rate."""

    account_id: str
    currency: str
    balance: Decimal
    equity: Decimal | None
    realized_pnl_today: Decimal
    fees_today: Decimal
    trading_state: TradingState
    profile_id: str
    profile_version: str
    headroom: list[dict[str, Any]]
    #: Realised P&L held in its own currency until a conversion rate arrives (fail closed meanwhile).
    unbooked_pnl: dict[str, Decimal]
    #: The conversions the account lacks: while any is missing, it takes no new risk.
    conversion_missing: list[str]
    #: What the trading state means: kind (active, lock, breach, halt), rule, when it lifts, what to do.
    state: dict[str, Any]


class EngineQuery:
    """Answers about the engine's state; every answer is a copy or an immutable event."""

    def __init__(self, cache: EngineCache, ledger: Ledger) -> None:
        self._cache, self._ledger = cache, ledger

    def has_account(self, account_id: str) -> bool:
        """The account is configured."""
        return account_id in self._cache.accounts

    def account_ids(self) -> list[str]:
        """The configured accounts, in configuration order."""
        return list(self._cache.accounts)

    def positions(self, account_id: str | None = None) -> list[dict[str, Any]]:
        """Open and closed positions (one account, or all) as JSON-ready snapshots."""
        out = []
        for rt in self._cache.accounts.values():
            if account_id and rt.account.account_id != account_id:
                continue
            for pos in rt.account.positions.values():
                out.append(rt.account.snapshot(pos, self._cache.rates).model_dump(mode="json"))
        return out

    def orders(self, account_id: str | None = None) -> list[OrderRecord]:
        """Orders (one account, or all), oldest first; copies, so a caller cannot change the book."""
        return [_copy(r) for r in self._cache.orders.values() if not account_id or r.account_id == account_id]

    def fills(self, account_id: str | None = None) -> list[FillEvent]:
        """Fills (one account, or all), oldest first."""
        return [f for f in self._cache.fills if not account_id or f.account_id == account_id]

    def decisions(self, account_id: str | None = None, approved: bool | None = None) -> list[RiskDecisionEvent]:
        """Risk decisions on proposals and manual orders (one account, or all), oldest first."""
        return [
            d
            for d in self._cache.decided.values()
            if (not account_id or d.account_id == account_id) and (approved is None or d.approved is approved)
        ]

    def open_positions(self, account_id: str) -> int:
        """How many of the account's positions are not flat (0 for an unknown account)."""
        rt = self._cache.accounts.get(account_id)
        return 0 if rt is None else sum(1 for p in rt.account.positions.values() if p.quantity != 0)

    def accounts(self, account_id: str | None = None) -> list[AccountView]:
        """Balances, equity, P&L, trading state and the headroom left to each rule (one account, or all)."""
        out = []
        for rt in self._cache.accounts.values():
            if account_id and rt.account.account_id != account_id:
                continue
            equity = self._ledger.equity(rt)
            if isinstance(equity, Decimal):
                headroom = [h.model_dump(mode="json") for h in rt.rules.headroom(rt.account.balance, equity)]
                value: Decimal | None = equity
            else:
                value, headroom = None, [{"error": str(equity)}]
            out.append(
                AccountView(
                    rt.account.account_id,
                    rt.account.currency,
                    rt.account.balance,
                    value,
                    rt.account.realized_today,
                    rt.account.fees_today,
                    rt.state,
                    rt.config.profile.profile_id,
                    rt.config.profile.version,
                    headroom,
                    dict(rt.account.unbooked),
                    missing_conversion(rt.account, self._cache.rates),
                    explain(rt),
                )
            )
        return out


def _copy(record: OrderRecord) -> OrderRecord:
    return replace(record)  # the spec and the events in it are immutable: a shallow copy suffices
