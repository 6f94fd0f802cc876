"""What agents may read: market data, positions and account state as last published. Pure.

Market data is point in time: a read takes the decision time and sees only bars and prices with
``ts_event`` at or before it, so a replay of the past cannot leak the future.

Positions and equity are the account's own state, not the market's: a read gives the latest
known, whatever its time. A position newer than the signal (signals queued behind fills) is
still the position to trade from; reading it as flat would double a target-position trade.

The service layer decides on a :meth:`MarketContext.snapshot`, so every agent and the decision
itself see one position, even when a fill arrives while an agent is thinking.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from decimal import Decimal

from at_core.events import AccountStateEvent, BarData, MarketDataEvent, PositionEvent, QuoteData, TradeData


@dataclass(frozen=True, slots=True)
class Bar:
    ts: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal


@dataclass
class MarketContext:
    """Bounded history per instrument plus positions and equity per account."""

    max_bars: int = 500
    bars: dict[str, deque[Bar]] = field(default_factory=lambda: defaultdict(deque))
    last_price: dict[str, tuple[int, Decimal]] = field(default_factory=dict)
    positions: dict[tuple[str, str], tuple[int, Decimal]] = field(default_factory=dict)
    equity: dict[str, tuple[int, Decimal]] = field(default_factory=dict)
    currency: dict[str, str] = field(default_factory=dict)
    realized: dict[tuple[str, str], Decimal] = field(default_factory=dict)

    def on_market_data(self, event: MarketDataEvent) -> None:
        data = event.data
        if isinstance(data, BarData):
            self.add_bar(event.instrument_id, Bar(event.ts_event, data.open, data.high, data.low, data.close))
        elif isinstance(data, QuoteData):
            self.last_price[event.instrument_id] = (event.ts_event, (data.bid + data.ask) / 2)
        elif isinstance(data, TradeData):
            self.last_price[event.instrument_id] = (event.ts_event, data.price)

    def add_bar(self, instrument_id: str, bar: Bar) -> None:
        bars = self.bars[instrument_id]
        bars.append(bar)
        self.last_price[instrument_id] = (bar.ts, bar.close)
        while len(bars) > self.max_bars:
            bars.popleft()

    def on_position(self, event: PositionEvent) -> None:
        p = event.position
        self.positions[(p.account_id, p.instrument_id)] = (event.ts_event, p.quantity)
        self.realized[(p.account_id, p.instrument_id)] = p.realized_pnl

    def on_account(self, event: AccountStateEvent) -> None:
        self.equity[event.account_id] = (event.ts_event, event.equity)
        self.currency[event.account_id] = event.currency

    def snapshot(self) -> MarketContext:
        """A copy that later events do not change (bars copied, the rest shallow: its values are immutable)."""
        bars: defaultdict[str, deque[Bar]] = defaultdict(deque)
        bars.update({k: deque(v) for k, v in self.bars.items()})
        return MarketContext(
            max_bars=self.max_bars,
            bars=bars,
            last_price=dict(self.last_price),
            positions=dict(self.positions),
            equity=dict(self.equity),
            currency=dict(self.currency),
            realized=dict(self.realized),
        )

    # --- reads -----------------------------------------------------------------------------

    def bars_until(self, instrument_id: str, ts: int) -> list[Bar]:
        return [b for b in self.bars.get(instrument_id, ()) if b.ts <= ts]

    def price_at(self, instrument_id: str, ts: int) -> Decimal | None:
        item = self.last_price.get(instrument_id)
        return item[1] if item is not None and item[0] <= ts else None

    def position_at(self, account_id: str, instrument_id: str, ts: int) -> Decimal:
        """The latest known position (0 when none was ever published); ``ts`` is not a bound (own state)."""
        item = self.positions.get((account_id, instrument_id))
        return item[1] if item is not None else Decimal(0)

    def equity_at(self, account_id: str, ts: int) -> Decimal | None:
        """The latest known equity, or None; ``ts`` is not a bound (own state)."""
        item = self.equity.get(account_id)
        return item[1] if item is not None else None

    def currency_of(self, account_id: str, default: str = "USD") -> str:
        """The account's currency as exec-sim last published it, else ``default``."""
        return self.currency.get(account_id, default)

    def rates_at(self, ts: int) -> dict[str, Decimal]:
        """Conversion rates (``{"USD/JPY": mid}``) from the last prices of the pairs seen at or
        before ``ts``: FX pairs and crypto spot (``BTC/USDT``), never a perpetual."""
        rates = {}
        for instrument_id, (seen, price) in self.last_price.items():
            symbol = instrument_id.rpartition(".")[0]
            if seen <= ts and "/" in symbol and ":" not in symbol:
                rates[symbol] = price
        return rates
