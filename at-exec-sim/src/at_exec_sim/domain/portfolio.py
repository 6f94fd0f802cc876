"""Positions and P&L in Decimal, netting per instrument. Pure: no I/O, no clock.

P&L is in the instrument's currency (``instrument.pnl``); an account in another currency
converts with a rate the caller supplies (fail closed when it has none).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import ClassVar

from at_core.catalog import Instrument
from at_core.models.enums import OrderSide, PositionSide
from at_core.models.portfolio import PositionSnapshot

ZERO = Decimal(0)


@dataclass
class Position:
    instrument: Instrument
    quantity: Decimal = ZERO  # signed
    avg_price: Decimal = ZERO
    realized: Decimal = ZERO  # instrument currency
    fees: Decimal = ZERO  # account currency
    last_price: Decimal | None = None
    #: fills applied to any position so far: what is held near its expiry is looked for again
    #: only when this (or the day, or the accounts) moved
    applied: ClassVar[int] = 0

    @property
    def side(self) -> PositionSide:
        return (
            PositionSide.LONG if self.quantity > 0 else PositionSide.SHORT if self.quantity < 0 else PositionSide.FLAT
        )

    def unrealized(self) -> Decimal:
        if self.quantity == 0 or self.last_price is None:
            return ZERO
        return self.instrument.pnl(self.quantity, self.avg_price, self.last_price)

    def apply(self, side: OrderSide, qty: Decimal, price: Decimal) -> Decimal:
        """Apply a fill; return the P&L it realised (instrument currency)."""
        Position.applied += 1
        signed = qty * side.sign
        realized = ZERO
        if self.quantity == 0 or (self.quantity > 0) == (signed > 0):
            total = self.quantity + signed
            self.avg_price = (self.avg_price * abs(self.quantity) + price * qty) / abs(total)
            self.quantity = total
        else:
            closing = min(qty, abs(self.quantity))
            realized = self.instrument.pnl(closing * (1 if self.quantity > 0 else -1), self.avg_price, price)
            remaining = qty - closing
            self.quantity += closing * side.sign
            if self.quantity == 0:
                self.avg_price = ZERO
            if remaining > 0:  # flipped
                self.quantity = remaining * side.sign
                self.avg_price = price
        self.realized += realized
        self.last_price = price if self.last_price is None else self.last_price
        return realized


@dataclass
class Account:
    """Balance and positions of one account. ``balance`` holds realised P&L and fees."""

    account_id: str
    currency: str
    starting_balance: Decimal
    balance: Decimal
    positions: dict[str, Position] = field(default_factory=dict)
    realized_today: Decimal = ZERO
    fees_today: Decimal = ZERO
    unbooked: dict[str, Decimal] = field(default_factory=dict)  # realised P&L by currency, awaiting a rate
    #: positions opened by any account so far: an index of who holds what rebuilds when it moves
    opened: ClassVar[int] = 0

    def position(self, instrument: Instrument) -> Position:
        pos = self.positions.get(instrument.instrument_id)
        if pos is None:
            pos = self.positions[instrument.instrument_id] = Position(instrument)
            Account.opened += 1
        return pos

    def unrealized(self, rates: dict[str, Decimal]) -> Decimal:
        total = ZERO
        for p in self.positions.values():
            if p.quantity != 0 and p.last_price is not None:  # else Position.unrealized is zero
                inst = p.instrument
                pnl = inst.pnl(p.quantity, p.avg_price, p.last_price)
                total += pnl if inst.currency == self.currency else to_account(pnl, inst.currency, self.currency, rates)
        return total

    def equity(self, rates: dict[str, Decimal]) -> Decimal:
        """Balance, open P&L and realised P&L not yet booked, in the account's currency.

        Raises:
            MissingRate: any of it cannot be converted (the caller fails closed).
        """
        if not self.unbooked:  # every holder's mark asks: ``unrealized`` inlined, the same sums in the same order
            total, currency = ZERO, self.currency
            for p in self.positions.values():
                if p.quantity != 0 and p.last_price is not None:
                    inst = p.instrument
                    pnl = inst.pnl(p.quantity, p.avg_price, p.last_price)
                    total += pnl if inst.currency == currency else to_account(pnl, inst.currency, currency, rates)
            return self.balance + total
        held = sum((to_account(v, ccy, self.currency, rates) for ccy, v in self.unbooked.items()), ZERO)
        return self.balance + self.unrealized(rates) + held

    def snapshot(self, pos: Position, rates: dict[str, Decimal]) -> PositionSnapshot:
        return PositionSnapshot(
            account_id=self.account_id,
            instrument_id=pos.instrument.instrument_id,
            quantity=pos.quantity,
            side=pos.side,
            avg_price=pos.avg_price,
            realized_pnl=pos.realized,
            unrealized_pnl=pos.unrealized(),
            fees=pos.fees,
            currency=pos.instrument.currency,
            last_price=pos.last_price,
        )


class MissingRate(Exception):
    """No conversion rate from an instrument's currency to the account's."""

    def __init__(self, from_ccy: str, to_ccy: str) -> None:
        self.from_ccy, self.to_ccy = from_ccy, to_ccy
        super().__init__(f"no {from_ccy}->{to_ccy} rate known")


_STABLE = {"USDT", "USDC", "USD"}


def to_account(amount: Decimal, from_ccy: str, to_ccy: str, rates: dict[str, Decimal]) -> Decimal:
    """Convert ``amount`` with ``rates`` ("BASE/QUOTE" -> mid). USD stablecoins count as USD.

    Raises:
        MissingRate: neither the direct nor the inverse pair is known.
    """
    if amount == 0 or from_ccy == to_ccy or (from_ccy in _STABLE and to_ccy in _STABLE):
        return amount
    if (direct := rates.get(f"{from_ccy}/{to_ccy}")) is not None:
        return amount * direct
    if (inverse := rates.get(f"{to_ccy}/{from_ccy}")) is not None:
        return amount / inverse
    raise MissingRate(from_ccy, to_ccy)
