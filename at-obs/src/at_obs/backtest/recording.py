"""Bars and a TradingView trade list as the at-core events the live stack consumes (pure).

Every bar becomes a ``market_data`` event stamped at its *close* (open + bar size: when a live
feed would know it), carrying its open time in ``ts_open``. Every trade becomes two
TradingView-shaped ``signal`` events, an entry ("be long/short qty") and an exit ("be flat"),
stamped at the time TradingView lists for them. TradingView lists a market order at the open
of the bar it filled on, which is the close of the bar its alert fired on: so each signal
arrives right after the bar that closed at the same instant, and the simulated venue fills it
against that bar (at its close, plus slippage). Events at one instant go bars first, then
exits, then entries, so a reversal exits before it enters. Ids come from a seeded generator on
the events' own clock: the same inputs give the same events, byte for byte.

Recorded alerts (the ``signal`` events of an audit trail or a JSONL recording) are the other
signal source: each is published again at its own time, after the bar that closed then, as
the account and strategy of the backtest, with everything TradingView sent (action, size,
target position, price, comment) unchanged and a fresh id.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from at_core.clock import ManualClock
from at_core.events import BarData, Event, EventFactory, MarketDataEvent, SignalEvent
from at_core.ids import IdGenerator
from at_core.models.enums import IngestSource, PositionSide, SignalAction
from at_core.symbols import SymbolRef
from at_obs.backtest.bars import Bar, BarSeries
from at_obs.backtest.tv_trades import TvTrade

ID_SEED = 17
_ORDER = {"bar": 0, "exit": 1, "alert": 1, "entry": 2}
#: A recorded signal's own fields that the backtest replaces (its envelope, its target).
_REPLACED = frozenset({"event_id", "event_type", "schema_version", "ts_event", "ts_init", "source", "correlation_id",
                       "causation_id", "account_id", "strategy_id"})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Target:
    """Where the signals go: the account (its rule profile is exec-sim's) and the strategy."""

    symbol: SymbolRef
    ticker: str
    account_id: str
    strategy_id: str


def _signal(factory: EventFactory, trade: TvTrade, leg: str, target: Target, interval: str) -> SignalEvent:
    long = trade.direction == "long"
    side = PositionSide.LONG if long else PositionSide.SHORT
    entering = leg == "entry"
    buying = long == entering
    return factory.make(
        SignalEvent,
        ts_event=trade.entry_ns if entering else trade.exit_ns,
        origin=IngestSource.TRADINGVIEW,
        account_id=target.account_id,
        strategy_id=target.strategy_id,
        instrument_id=target.symbol.instrument_id,
        asset_class=target.symbol.asset_class,
        ticker=target.ticker,
        action=SignalAction.BUY if buying else SignalAction.SELL,
        quantity=trade.qty,
        price=trade.entry_price if entering else trade.exit_price,
        position_size=(trade.qty if long else -trade.qty) if entering else Decimal(0),
        market_position=side if entering else PositionSide.FLAT,
        prev_market_position=PositionSide.FLAT if entering else side,
        alert_id=f"tv-trade-{trade.number}-{leg}",
        interval=interval,
        comment=(trade.entry_signal if entering else trade.exit_signal) or None,
    )


def recorded_alerts(events: list[Event], instrument_id: str) -> tuple[SignalEvent, ...]:
    """The recorded signals on ``instrument_id``, in recorded order (the audit trail's alert log)."""
    return tuple(e for e in events if isinstance(e, SignalEvent) and e.instrument_id == instrument_id)


def _replayed(factory: EventFactory, alert: SignalEvent, target: Target) -> SignalEvent:
    fields = {k: v for k, v in alert.model_dump().items() if k not in _REPLACED}
    return factory.make(
        SignalEvent, ts_event=alert.ts_event, account_id=target.account_id, strategy_id=target.strategy_id, **fields
    )


def build_inputs(
    bars: BarSeries, trades: tuple[TvTrade, ...], target: Target, alerts: tuple[SignalEvent, ...] = ()
) -> list[Event]:
    """The input events of a backtest, in the order the stack must see them.

    Args:
        bars: the market data, one instrument.
        trades: the trades whose entries and exits become signals.
        target: the instrument's canonical identity, the account and the strategy.
        alerts: recorded signals, published again at their own times (see :func:`recorded_alerts`).
    """
    planned: list[tuple[int, int, int, Bar | TvTrade | SignalEvent, str]] = []
    for i, bar in enumerate(bars.bars):
        planned.append((bars.close_ns(bar), _ORDER["bar"], i, bar, "bar"))
    for trade in trades:
        planned.append((trade.entry_ns, _ORDER["entry"], trade.number, trade, "entry"))
        planned.append((trade.exit_ns, _ORDER["exit"], trade.number, trade, "exit"))
    for i, alert in enumerate(alerts):
        planned.append((alert.ts_event, _ORDER["alert"], i, alert, "alert"))
    planned.sort(key=lambda p: p[:3])
    clock = ManualClock(planned[0][0] if planned else 0)
    factory = EventFactory("gateway", clock, IdGenerator(clock, random.Random(ID_SEED)))
    out: list[Event] = []
    for ts, _, _, item, leg in planned:
        clock.advance_to(ts)
        if isinstance(item, Bar):
            out.append(_market_data(factory, item, ts, bars.interval, target))
        elif isinstance(item, SignalEvent):
            out.append(_replayed(factory, item, target))
        else:
            out.append(_signal(factory, item, leg, target, bars.interval))
    return out


def _market_data(factory: EventFactory, bar: Bar, ts: int, interval: str, target: Target) -> MarketDataEvent:
    data = BarData(
        interval=interval, open=bar.open, high=bar.high, low=bar.low, close=bar.close,
        volume=bar.volume, ts_open=bar.ts_open_ns,
    )  # fmt: skip
    return factory.make(
        MarketDataEvent, ts_event=ts, instrument_id=target.symbol.instrument_id, venue=target.symbol.venue, data=data
    )
