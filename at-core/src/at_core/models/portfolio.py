"""Positions and account balances as published by exec-sim."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from at_core.models.base import FrozenModel, Identifier
from at_core.models.enums import PositionSide


class PositionSnapshot(FrozenModel):
    """One position: signed quantity (long > 0), average price and P&L in the instrument's currency."""

    account_id: Identifier
    instrument_id: Identifier
    quantity: Decimal = Field(description="Signed: long > 0, short < 0, flat = 0")
    side: PositionSide
    avg_price: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees: Decimal = Decimal(0)
    currency: str
    last_price: Decimal | None = None


class RuleHeadroom(FrozenModel):
    """How far an account is from one rule's limit, for dashboards and alerts."""

    rule: Identifier
    limit: Decimal
    used: Decimal
    headroom: Decimal
    floor: Decimal | None = Field(default=None, description="Equity level at which the rule breaches, if it has one")
