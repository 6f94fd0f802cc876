"""Trading calendars: which sessions a market holds, with holidays and early closes.

Three kinds, all answering in exact integer UTC nanoseconds:

* CME Group products (``CME_Equity``, ``CMEGlobex_Energy``, ``CMEGlobex_Metals``, ...): sessions,
  holidays and early closes from ``pandas_market_calendars`` (product-specific Globex calendars).
  Its rules are code shipped in the wheel: nothing is fetched at run time.
* ``FX``: Sunday 17:00 to Friday 17:00 New York, one session per trading day (17:00 to 17:00).
* ``CRYPTO``: always open (one session per UTC day, back to back).

Why ``pandas_market_calendars`` and not ``exchange_calendars``: the former has one calendar per
CME Globex product group (equity index closes at 16:00 CT, energy and metals at 16:00 CT with
their own holiday early closes, grains with their day break), the latter one ``CMES`` calendar
whose regular close is 17:00 CT for every product. It builds on ``exchange_calendars`` anyway.

A session belongs to the trading day it closes on (CME labels the Sunday-evening open Monday's).
Schedules are computed per calendar year on first use and kept: a lookup is a bisection.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from at_core.errors import AtCoreError

NS = 1_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FX = "FX"
CRYPTO = "CRYPTO"
_NEW_YORK = ZoneInfo("America/New_York")
_FX_ROLL = time(17, 0)


class UnknownCalendarError(AtCoreError, LookupError):
    """No calendar of that name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"unknown market calendar {name!r} (known: {', '.join(known_calendars())})")


@dataclass(frozen=True, slots=True)
class TradingSession:
    """One session: [open_ns, close_ns), labelled with the trading day it closes on."""

    day: date
    open_ns: int
    close_ns: int
    early_close: bool = False


def _ns(dt: datetime) -> int:
    delta = dt.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * NS + delta.microseconds * 1_000


def _utc(ts_ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ts_ns // 1_000)


@dataclass
class MarketCalendar:
    """Sessions of one market, loaded a year at a time. Lookups are pure functions of the time."""

    name: str
    _years: set[int] = field(default_factory=set)
    _sessions: list[TradingSession] = field(default_factory=list)
    _opens: list[int] = field(default_factory=list)

    def _build(self, year: int) -> list[TradingSession]:  # pragma: no cover - overridden
        raise NotImplementedError

    def _ensure(self, ts_ns: int) -> None:
        year = _utc(ts_ns).year
        self.load_years((year - 1, year, year + 1))

    def load_years(self, years: tuple[int, ...] | list[int]) -> None:
        """Build the schedules of ``years`` not built yet."""
        missing = [y for y in years if y not in self._years]
        if not missing:
            return
        by_open = {s.open_ns: s for s in self._sessions}
        for y in missing:
            for s in self._build(y):
                by_open[s.open_ns] = s
            self._years.add(y)
        self._sessions = sorted(by_open.values(), key=lambda s: s.open_ns)
        self._opens = [s.open_ns for s in self._sessions]

    def session_at(self, ts_ns: int) -> TradingSession | None:
        """The session open at ``ts_ns``, or None (closed: a weekend, a holiday, after an early close)."""
        self._ensure(ts_ns)
        i = bisect.bisect_right(self._opens, ts_ns) - 1
        if i >= 0 and ts_ns < self._sessions[i].close_ns:
            return self._sessions[i]
        return None

    def is_open(self, ts_ns: int) -> bool:
        return self.session_at(ts_ns) is not None

    def sessions(self, start_ns: int, end_ns: int) -> list[TradingSession]:
        """Every session overlapping [start_ns, end_ns), by open."""
        self._ensure(start_ns)
        self._ensure(end_ns)
        i = max(bisect.bisect_right(self._opens, start_ns) - 1, 0)
        out = []
        for s in self._sessions[i:]:
            if s.open_ns >= end_ns:
                break
            if s.close_ns > start_ns:
                out.append(s)
        return out

    def next_open_ns(self, ts_ns: int) -> int | None:
        """The first session open strictly after ``ts_ns`` (within a year)."""
        for s in self.sessions(ts_ns, ts_ns + 366 * 86_400 * NS):
            if s.open_ns > ts_ns:
                return s.open_ns
        return None

    def trading_day(self, ts_ns: int) -> date | None:
        """The trading day ``ts_ns`` trades in: the open session's, else the next session's."""
        s = self.session_at(ts_ns)
        if s is not None:
            return s.day
        nxt = self.next_open_ns(ts_ns)
        return None if nxt is None else self.session_at(nxt).day  # type: ignore[union-attr]

    def is_trading_day(self, day: date) -> bool:
        """Whether a session closes on ``day`` (a holiday or a weekend: False)."""
        noon = _ns(datetime.combine(day, time(12, 0), tzinfo=UTC))
        return any(s.day == day for s in self.sessions(noon - 2 * 86_400 * NS, noon + 2 * 86_400 * NS))


class ExchangeCalendar(MarketCalendar):
    """A CME Group (or any ``pandas_market_calendars``) calendar; breaks within a session are ignored."""

    def _build(self, year: int) -> list[TradingSession]:
        cal = _pmc_calendar(self.name)
        sched = cal.schedule(start_date=f"{year}-01-01", end_date=f"{year}-12-31")
        if sched.empty:
            return []
        early = set(cal.early_closes(sched).index)
        out = []
        for label, row in sched.iterrows():
            out.append(
                TradingSession(
                    day=label.date(),
                    open_ns=int(row["market_open"].value),
                    close_ns=int(row["market_close"].value),
                    early_close=label in early,
                )
            )
        return out


class FxCalendar(MarketCalendar):
    """Spot FX: each weekday's session runs 17:00 New York the evening before to 17:00 that day."""

    def _build(self, year: int) -> list[TradingSession]:
        out = []
        day = date(year, 1, 1)
        while day.year == year:
            if day.weekday() < 5:
                close = datetime.combine(day, _FX_ROLL, tzinfo=_NEW_YORK)
                # Monday's session opens on Sunday at 17:00, every other day's the evening before
                opened = datetime.combine(day - timedelta(days=1), _FX_ROLL, tzinfo=_NEW_YORK)
                out.append(TradingSession(day, _ns(opened), _ns(close)))
            day += timedelta(days=1)
        return out


class CryptoCalendar(MarketCalendar):
    """Crypto: always open; one session per UTC day so a day still has a label."""

    def _build(self, year: int) -> list[TradingSession]:
        out = []
        day = date(year, 1, 1)
        while day.year == year:
            start = datetime.combine(day, time(0), tzinfo=UTC)
            out.append(TradingSession(day, _ns(start), _ns(start + timedelta(days=1))))
            day += timedelta(days=1)
        return out


@cache
def _pmc_calendar(name: str):  # type: ignore[no-untyped-def]
    import pandas_market_calendars as mcal  # type: ignore[import-untyped]  # heavy: loaded on first use

    return mcal.get_calendar(name)


_CME_NAMES = (
    "CME_Equity",
    "CBOT_Equity",
    "CMEGlobex_Energy",
    "CMEGlobex_Crude",
    "CMEGlobex_Metals",
    "CMEGlobex_Gold",
    "CMEGlobex_FX",
    "CMEGlobex_Grains",
    "CME_Rate",
    "CBOT_InterestRate",
    "CME_Bond",
    "CBOT_Bond",
)


def known_calendars() -> tuple[str, ...]:
    return (*_CME_NAMES, FX, CRYPTO)


@cache
def get_calendar(name: str) -> MarketCalendar:
    """The calendar called ``name`` (one shared instance per name).

    Raises:
        UnknownCalendarError: not one of :func:`known_calendars`.
    """
    if name == FX:
        return FxCalendar(name)
    if name == CRYPTO:
        return CryptoCalendar(name)
    if name in _CME_NAMES:
        return ExchangeCalendar(name)
    raise UnknownCalendarError(name)


PRELOAD_YEARS = tuple(range(2024, 2031))


def preload(names: tuple[str, ...] | list[str], years: tuple[int, ...] = PRELOAD_YEARS) -> None:
    """Build the named calendars' schedules for ``years`` now. The first build imports pandas and
    takes seconds (12.5 s measured on a loaded 2-core machine): a service calls this at its start,
    so its first signal or order does not stall (a stall there changed a replay's outputs). Other
    years still load on first use. Reads no clock: which years is the caller's choice."""
    for name in dict.fromkeys(names):
        get_calendar(name).load_years(years)
