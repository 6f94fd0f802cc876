"""The stack's fills back into a trade list: entry, exit, quantity, P&L, fees, slippage, duration, alert.

Fills are matched first in, first out per account and instrument: a fill that adds to the
position opens a lot; one that reduces it closes the oldest lots first (a reversal closes
every lot and opens one with the rest). Each closed piece is a :class:`ClosedTrade` whose
gross P&L is ``(exit - entry) x qty x multiplier`` (negated for shorts) and whose fees and
slippage are the fills' (pro rata by quantity). Pure.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from at_core.events import Event, FillEvent, SignalEvent
from at_core.models.enums import OrderSide

CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """One round trip through the live stack."""

    account_id: str
    instrument_id: str
    direction: str  # long | short
    qty: Decimal
    entry_ns: int
    entry_price: Decimal
    exit_ns: int
    exit_price: Decimal
    gross_pnl: Decimal
    fees: Decimal
    slippage: Decimal
    entry_alert: str | None
    exit_alert: str | None

    @property
    def net_pnl(self) -> Decimal:
        return self.gross_pnl - self.fees

    @property
    def duration_s(self) -> float:
        return (self.exit_ns - self.entry_ns) / 1e9


@dataclass
class _Lot:
    qty: Decimal  # signed: > 0 long
    price: Decimal
    ts: int
    fee_per_unit: Decimal
    slip_per_unit: Decimal
    alert: str | None


def alert_of(fill: FillEvent, by_id: dict[str, Event]) -> str | None:
    """The ``alert_id`` of the signal at the root of the fill's causal chain (None: not caused by a signal)."""
    current: Event | None = fill
    for _ in range(64):
        if current is None:
            return None
        if isinstance(current, SignalEvent):
            return current.alert_id or current.event_id
        current = by_id.get(current.causation_id or "")
    return None


def trade_list(events: list[Event], multiplier: Decimal) -> list[ClosedTrade]:
    """Closed trades from the fills in ``events`` (inputs and outputs), in fill order.

    Args:
        events: the backtest's inputs and captured outputs (signals let a fill name its alert).
        multiplier: currency per point of the instrument (5 for MES, 1 for a share).
    """
    by_id = {e.event_id: e for e in events}
    fills = sorted((e for e in events if isinstance(e, FillEvent)), key=lambda f: (f.ts_event, f.event_id))
    books: dict[tuple[str, str], deque[_Lot]] = {}
    out: list[ClosedTrade] = []
    for fill in fills:
        book = books.setdefault((fill.account_id, fill.instrument_id), deque())
        signed = fill.quantity if fill.side is OrderSide.BUY else -fill.quantity
        fee_unit = fill.fee / fill.quantity
        slip_unit = (fill.slippage_amount or Decimal(0)) / fill.quantity
        alert = alert_of(fill, by_id)
        left = signed
        while left and book and (book[0].qty > 0) != (left > 0):
            lot = book[0]
            take = min(abs(lot.qty), abs(left))
            direction = 1 if lot.qty > 0 else -1
            out.append(
                ClosedTrade(
                    fill.account_id,
                    fill.instrument_id,
                    "long" if direction > 0 else "short",
                    take,
                    lot.ts,
                    lot.price,
                    fill.ts_event,
                    fill.price,
                    (fill.price - lot.price) * take * multiplier * direction,
                    (lot.fee_per_unit + fee_unit) * take,
                    (lot.slip_per_unit + slip_unit) * take,
                    lot.alert,
                    alert,
                )
            )
            lot.qty -= take * direction
            left += take * direction
            if lot.qty == 0:
                book.popleft()
        if left:
            book.append(_Lot(left, fill.price, fill.ts_event, fee_unit, slip_unit, alert))
    return out
