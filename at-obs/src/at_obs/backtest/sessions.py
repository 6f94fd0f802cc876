"""Bars and signals against the instrument's trading calendar: what the market did not trade is not traded.

The calendar is at-core's (:mod:`at_core.markets.calendars`): the product's own for a future
(``CME_Equity`` for ES/MES/NQ, ``CMEGlobex_Energy`` for CL, ...), ``FX`` for a pair, ``CRYPTO``
(always open) for crypto. A bar is *in session* when its open time is inside one of the
calendar's sessions (a bar of a day or more: when its trading day is a trading day). A bar that
is not is left out of the backtest and counted, as one of two kinds:

* **holiday**: its trading day (the firm's, rolled at ``roll`` in ``zone``: 17:00 Chicago for
  CME) is a weekday on which the market holds no session (Christmas, Thanksgiving, ...);
* **outside session**: anything else (the daily maintenance break, a weekend, after an early close).

A signal trades on the bar that closed last at or before it (the fill rule): when that bar was
left out, so is the signal (a TradingView trade is left out whole when its entry or its exit is,
named by its number), and counted. Pure: the calendar is a function of time.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date, time, tzinfo
from typing import Any

from at_core.markets.calendars import CRYPTO, FX, MarketCalendar, get_calendar
from at_core.models.enums import AssetClass
from at_core.models.futures_specs import FUTURE_SPECS
from at_core.models.instruments import Instrument
from at_obs.backtest.bars import DAY_NS, Bar, BarSeries
from at_obs.backtest.daily import trading_day
from at_obs.backtest.tv_trades import TvTrade

NONE = "none"


def calendar_name(instrument: Instrument) -> str:
    """The calendar an instrument trades on: its futures product's, ``FX`` or ``CRYPTO``."""
    if instrument.asset_class is AssetClass.FUTURE:
        spec = FUTURE_SPECS.get(getattr(instrument, "root", ""))
        return spec.calendar if spec is not None else "CME_Equity"
    return FX if instrument.asset_class is AssetClass.FX else CRYPTO


@dataclass(frozen=True, slots=True)
class Screened:
    """The bars in session and what was left out (counts, the holidays' dates)."""

    calendar: str | None
    bars: BarSeries
    outside_session: int = 0
    holiday_bars: int = 0
    holidays: tuple[date, ...] = ()
    dropped_closes: tuple[int, ...] = ()  # close times of the bars left out, sorted
    kept_closes: tuple[int, ...] = ()  # close times of the bars kept, sorted

    def report(self, trades: tuple[TvTrade, ...], traded: tuple[TvTrade, ...], alerts_out: int) -> dict[str, Any]:
        """The report's account of what the calendar left out (``inputs``' session keys)."""
        kept = {t.number for t in traded}
        return {
            "calendar": self.calendar, "bars_traded": len(self.bars.bars),
            "bars_outside_session": self.outside_session, "bars_on_holidays": self.holiday_bars,
            "holidays": [d.isoformat() for d in self.holidays],
            "trades_outside_session": [t.number for t in trades if t.number not in kept],
            "alerts_outside_session": alerts_out,
        }  # fmt: skip

    def tradable(self, ts_ns: int) -> bool:
        """Whether a signal at ``ts_ns`` trades: the last bar closed at or before it was kept."""
        if self.calendar is None:
            return True
        last_kept = _last_at_or_before(self.kept_closes, ts_ns)
        last_dropped = _last_at_or_before(self.dropped_closes, ts_ns)
        return last_dropped is None or (last_kept is not None and last_kept > last_dropped)


def _last_at_or_before(values: tuple[int, ...], ts_ns: int) -> int | None:
    i = bisect.bisect_right(values, ts_ns)
    return values[i - 1] if i else None


def _in_session(cal: MarketCalendar, bar: Bar, series: BarSeries, zone: tzinfo, roll: time) -> bool:
    if series.interval_ns >= DAY_NS:
        return cal.is_trading_day(trading_day(bar.ts_open_ns, zone, roll))
    return cal.session_at(bar.ts_open_ns) is not None


def screen(series: BarSeries, calendar: str | None, zone: tzinfo, roll: time) -> Screened:
    """The bars of ``series`` in ``calendar``'s sessions, and the count of the others by kind.

    Raises:
        UnknownCalendarError: ``calendar`` is not one of at-core's.
    """
    if calendar is None:
        return Screened(None, series)
    cal = get_calendar(calendar)
    kept: list[Bar] = []
    outside = on_holiday = 0
    holidays: set[date] = set()
    dropped: list[int] = []
    for bar in series.bars:
        if _in_session(cal, bar, series, zone, roll):
            kept.append(bar)
            continue
        dropped.append(series.close_ns(bar))
        day = trading_day(bar.ts_open_ns, zone, roll)
        if day.weekday() < 5 and not cal.is_trading_day(day):
            on_holiday += 1
            holidays.add(day)
        else:
            outside += 1
    out = BarSeries(tuple(kept), series.interval, series.interval_ns)
    return Screened(
        calendar, out, outside, on_holiday, tuple(sorted(holidays)), tuple(dropped),
        tuple(series.close_ns(b) for b in kept),
    )  # fmt: skip
