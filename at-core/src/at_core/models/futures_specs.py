"""Futures product specifications and last-trade-date rules.

Specs are the exchanges' published contract specs (CME Group product pages) as of
2026-11. Expiry rules count business days on CME Group's calendar (weekdays that are not
CME holidays, from :mod:`at_core.markets.calendars`), so a crude contract whose 25th is
Christmas expires a business day earlier, as the exchange's rule says.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal


def _is_business_day(d: date) -> bool:
    if d.weekday() >= 5:
        return False
    from at_core.markets.calendars import get_calendar  # the calendar library loads on first use

    return get_calendar("CME_Equity").is_trading_day(d)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + timedelta(days=offset + 7 * (n - 1))


def _business_days_before(d: date, n: int) -> date:
    while n > 0:
        d -= timedelta(days=1)
        if _is_business_day(d):
            n -= 1
    return d


def _last_business_day(year: int, month: int) -> date:
    d = date(year, month, calendar.monthrange(year, month)[1])
    while not _is_business_day(d):
        d -= timedelta(days=1)
    return d


def third_friday(year: int, month: int) -> date:
    return _nth_weekday(year, month, calendar.FRIDAY, 3)


def two_days_before_third_wednesday(year: int, month: int) -> date:
    return _business_days_before(_nth_weekday(year, month, calendar.WEDNESDAY, 3), 2)


def _energy_rule(days: int) -> Callable[[int, int], date]:
    """NYMEX crude: N business days before the 25th of the prior month (N+1 if the 25th is not a business day)."""

    def rule(year: int, month: int) -> date:
        prior_year, prior_month = (year - 1, 12) if month == 1 else (year, month - 1)
        the_25th = date(prior_year, prior_month, 25)
        n = days if _is_business_day(the_25th) else days + 1
        return _business_days_before(the_25th, n)

    return rule


def third_last_business_day(year: int, month: int) -> date:
    return _business_days_before(_last_business_day(year, month), 2)


def seventh_business_day_before_last(year: int, month: int) -> date:
    return _business_days_before(_last_business_day(year, month), 7)


QUARTERLY = "HMUZ"
MONTHLY = "FGHJKMNQUVXZ"
GOLD_MONTHS = "GJMQVZ"


@dataclass(frozen=True, slots=True)
class FutureSpec:
    """One futures product: the facts a contract of it inherits."""

    root: str
    name: str
    exchange: str
    tick_size: Decimal
    multiplier: Decimal
    currency: str
    months: str
    last_trade: Callable[[int, int], date]
    mini_equivalent: Decimal = Decimal(1)
    tv_exchanges: tuple[str, ...] = ()
    calendar: str = "CME_Equity"  # at_core.markets.calendars name: holidays, early closes, business days
    roll_business_days: int = 6  # the continuous symbol rolls this many business days before last trade

    @property
    def tick_value(self) -> Decimal:
        return self.tick_size * self.multiplier


_EQUITY_TV = ("CME_MINI", "CME", "CME_MINI_DL")
FUTURE_SPECS: dict[str, FutureSpec] = {
    s.root: s
    for s in (
        FutureSpec(
            "ES",
            "E-mini S&P 500",
            "CME",
            Decimal("0.25"),
            Decimal(50),
            "USD",
            QUARTERLY,
            third_friday,
            tv_exchanges=_EQUITY_TV,
        ),
        FutureSpec(
            "MES",
            "Micro E-mini S&P 500",
            "CME",
            Decimal("0.25"),
            Decimal(5),
            "USD",
            QUARTERLY,
            third_friday,
            Decimal("0.1"),
            _EQUITY_TV,
        ),
        FutureSpec(
            "NQ",
            "E-mini Nasdaq-100",
            "CME",
            Decimal("0.25"),
            Decimal(20),
            "USD",
            QUARTERLY,
            third_friday,
            tv_exchanges=_EQUITY_TV,
        ),
        FutureSpec(
            "MNQ",
            "Micro E-mini Nasdaq-100",
            "CME",
            Decimal("0.25"),
            Decimal(2),
            "USD",
            QUARTERLY,
            third_friday,
            Decimal("0.1"),
            _EQUITY_TV,
        ),
        FutureSpec(
            "RTY",
            "E-mini Russell 2000",
            "CME",
            Decimal("0.10"),
            Decimal(50),
            "USD",
            QUARTERLY,
            third_friday,
            tv_exchanges=_EQUITY_TV,
        ),
        FutureSpec(
            "YM",
            "E-mini Dow ($5)",
            "CBOT",
            Decimal(1),
            Decimal(5),
            "USD",
            QUARTERLY,
            third_friday,
            tv_exchanges=("CBOT_MINI", "CBOT", "CBOT_MINI_DL"),
            calendar="CBOT_Equity",
        ),
        FutureSpec(
            "CL",
            "Crude Oil",
            "NYMEX",
            Decimal("0.01"),
            Decimal(1000),
            "USD",
            MONTHLY,
            _energy_rule(3),
            tv_exchanges=("NYMEX", "NYMEX_DL"),
            calendar="CMEGlobex_Energy",
            roll_business_days=3,
        ),
        FutureSpec(
            "MCL",
            "Micro WTI Crude Oil",
            "NYMEX",
            Decimal("0.01"),
            Decimal(100),
            "USD",
            MONTHLY,
            _energy_rule(4),
            Decimal("0.1"),
            ("NYMEX", "NYMEX_DL"),
            calendar="CMEGlobex_Energy",
            roll_business_days=3,
        ),
        FutureSpec(
            "GC",
            "Gold",
            "COMEX",
            Decimal("0.10"),
            Decimal(100),
            "USD",
            GOLD_MONTHS,
            third_last_business_day,
            tv_exchanges=("COMEX", "COMEX_DL"),
            calendar="CMEGlobex_Metals",
            roll_business_days=20,
        ),
        FutureSpec(
            "MGC",
            "Micro Gold",
            "COMEX",
            Decimal("0.10"),
            Decimal(10),
            "USD",
            GOLD_MONTHS,
            third_last_business_day,
            Decimal("0.1"),
            ("COMEX", "COMEX_DL"),
            calendar="CMEGlobex_Metals",
            roll_business_days=20,
        ),
        FutureSpec(
            "ZN",
            "10-Year T-Note",
            "CBOT",
            Decimal("0.015625"),
            Decimal(1000),
            "USD",
            QUARTERLY,
            seventh_business_day_before_last,
            tv_exchanges=("CBOT", "CBOT_DL"),
            calendar="CBOT_InterestRate",
        ),
        FutureSpec(
            "6E",
            "Euro FX",
            "CME",
            Decimal("0.00005"),
            Decimal(125000),
            "USD",
            QUARTERLY,
            two_days_before_third_wednesday,
            tv_exchanges=("CME", "CME_DL"),
            calendar="CMEGlobex_FX",
        ),
    )
}
