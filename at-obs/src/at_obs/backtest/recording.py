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
_ORDER = {"bar": 0, "exit": 1, "entry": 2}


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


def build_inputs(bars: BarSeries, trades: tuple[TvTrade, ...], target: Target) -> list[Event]:
    """The input events of a backtest, in the order the stack must see them.

    Args:
        bars: the market data, one instrument.
        trades: the trades whose entries and exits become signals.
        target: the instrument's canonical identity, the account and the strategy.
    """
    planned: list[tuple[int, int, int, Bar | TvTrade, str]] = []
    for i, bar in enumerate(bars.bars):
        planned.append((bars.close_ns(bar), _ORDER["bar"], i, bar, "bar"))
    for trade in trades:
        planned.append((trade.entry_ns, _ORDER["entry"], trade.number, trade, "entry"))
        planned.append((trade.exit_ns, _ORDER["exit"], trade.number, trade, "exit"))
    planned.sort(key=lambda p: p[:3])
    clock = ManualClock(planned[0][0] if planned else 0)
    factory = EventFactory("gateway", clock, IdGenerator(clock, random.Random(ID_SEED)))
    out: list[Event] = []
    for ts, _, _, item, leg in planned:
        clock.advance_to(ts)
        if isinstance(item, Bar):
            out.append(_market_data(factory, item, ts, bars.interval, target))
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
