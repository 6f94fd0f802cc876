"""Bars and signals against the instrument's calendar: CME's Christmas 2026 (a Friday) in hourly bars."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from at_core.catalog import InstrumentCatalog
from at_core.symbols import normalize_ticker
from at_obs.backtest.bars import Bar, series
from at_obs.backtest.recording import Target, build_inputs
from at_obs.backtest.sessions import calendar_name, screen
from at_obs.backtest.tv_trades import TvTrade

CHICAGO, ROLL = ZoneInfo("America/Chicago"), time(17)
HOUR = 3600 * 10**9


def ns(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp()) * 10**9  # type: ignore[misc]


def hourly(start: int, hours: int) -> list[Bar]:
    price = Decimal(6000)
    return [Bar(start + i * HOUR, price, price + 1, price - 1, price, Decimal(1), line=i + 2) for i in range(hours)]


def trade(number: int, entry: int, exit_: int) -> TvTrade:
    p = Decimal(6000)
    return TvTrade(number, "long", Decimal(1), entry, p, "Long", exit_, p + 1, "Exit", None, number)


BARS = series(hourly(ns(2026, 12, 24), 5 * 24), "christmas.csv")  # Thu 24th 00:00 UTC to Mon 28th 23:00


def test_each_instrument_trades_on_its_own_calendar() -> None:
    catalog = InstrumentCatalog()
    assert calendar_name(catalog.get("MES.CME")) == "CME_Equity"
    assert calendar_name(catalog.get("CL.NYMEX")) == "CMEGlobex_Energy"
    assert calendar_name(catalog.get("EUR/USD.FX")) == "FX"
    assert calendar_name(catalog.get("BTC/USDT.BINANCE")) == "CRYPTO"


def test_christmas_bars_are_holidays_the_early_close_break_and_weekend_are_outside_and_the_rest_trade() -> None:
    # CME equity: the 24th closes early at 12:00 CT (18:00 UTC), the 25th holds no session, the
    # market opens again Sunday the 27th at 17:00 CT (23:00 UTC); the daily break is 16:00-17:00 CT.
    s = screen(BARS, "CME_Equity", CHICAGO, ROLL)
    # kept: 24th 00:00-17:00 (18), 27th 23:00 (1), 28th 00:00-21:00 (22) and 23:00 (1)
    assert len(s.bars.bars) == 42
    # on the holiday: the 24th 23:00 UTC (17:00 CT rolls into the 25th) and the 25th 00:00-22:00 UTC
    assert (s.holiday_bars, s.holidays) == (24, (date(2026, 12, 25),))
    # outside: the 24th 18:00-22:00 (after the early close), the weekend from the 25th 23:00 UTC
    # to the 27th 22:00 UTC (1 + 24 + 23), the 28th's break at 22:00 UTC
    assert s.outside_session == 5 + 48 + 1
    assert all(b.ts_open_ns < ns(2026, 12, 24, 18) or b.ts_open_ns >= ns(2026, 12, 27, 23) for b in s.bars.bars)
    assert screen(BARS, None, CHICAGO, ROLL).bars == BARS, "no calendar: every bar trades"


def test_a_signal_trades_only_after_a_bar_that_traded_and_a_trade_is_left_out_whole() -> None:
    s = screen(BARS, "CME_Equity", CHICAGO, ROLL)
    assert s.tradable(ns(2026, 12, 24, 18)), "the close of the last bar before the early close"
    assert not s.tradable(ns(2026, 12, 25, 12)), "Christmas day"
    assert not s.tradable(ns(2026, 12, 27, 23, 30)), "the session is open but no bar of it has closed"
    assert s.tradable(ns(2026, 12, 28, 0))
    before = trade(1, ns(2026, 12, 24, 10), ns(2026, 12, 24, 12))
    across = trade(2, ns(2026, 12, 24, 12), ns(2026, 12, 25, 12))
    traded = tuple(t for t in (before, across) if s.tradable(t.entry_ns) and s.tradable(t.exit_ns))
    assert traded == (before,)
    report = s.report((before, across), traded, alerts_out=0)
    assert report == {
        "calendar": "CME_Equity", "bars_traded": 42, "bars_outside_session": 54, "bars_on_holidays": 24,
        "holidays": ["2026-12-25"], "trades_outside_session": [2], "alerts_outside_session": 0,
    }  # fmt: skip
    target = Target(normalize_ticker("CME_MINI:MES1!"), "CME_MINI:MES1!", "acct", "strat")
    inputs = build_inputs(s.bars, traded, target)
    assert (
        sum(e.event_type == "market_data" for e in inputs) == 42 and sum(e.event_type == "signal" for e in inputs) == 2
    )
