"""Trades grouped into trading days, and the equity curve with its drawdown (pure).

A trade's P&L counts on the trading day it *exits* (when it is realised). A trading day rolls
at ``roll`` local time in ``tz``: with America/Chicago and 17:00 (CME futures, the prop firms'
daily reset), a trade closed at 17:30 CT on Monday counts on Tuesday. Days without a closed
trade are not trading days (they neither count towards minimum days nor dilute the bootstrap).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal

from at_obs.backtest.challenge import cents
from at_obs.backtest.trades import ClosedTrade


def trading_day(ts_ns: int, tz: tzinfo, roll: time) -> date:
    local = datetime.fromtimestamp(ts_ns / 1e9, UTC).astimezone(tz)
    return local.date() + timedelta(days=1) if local.time() >= roll and roll != time(0) else local.date()


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    pnl: int  # cents, net of fees
    trades: int


def by_day(trades: list[ClosedTrade], tz: tzinfo, roll: time) -> list[Day]:
    """Net P&L and trade count per trading day, in day order."""
    pnl: Counter[date] = Counter()
    count: Counter[date] = Counter()
    for trade in trades:
        d = trading_day(trade.exit_ns, tz, roll)
        pnl[d] += cents(trade.net_pnl)
        count[d] += 1
    return [Day(d, pnl[d], count[d]) for d in sorted(count)]


@dataclass(frozen=True, slots=True)
class EquityPoint:
    ts_ns: int
    equity: Decimal
    drawdown: Decimal  # below the highest equity so far, >= 0


def equity_curve(trades: list[ClosedTrade], start: Decimal) -> list[EquityPoint]:
    """Equity after each trade's exit (net of fees), and the drawdown from the running peak."""
    equity, peak = start, start
    points = []
    for trade in sorted(trades, key=lambda t: (t.exit_ns, t.entry_ns)):
        equity += trade.net_pnl
        peak = max(peak, equity)
        points.append(EquityPoint(trade.exit_ns, equity, peak - equity))
    return points
