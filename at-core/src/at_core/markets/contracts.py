"""Futures contract months: which listed contract a continuous symbol means, and when each expires.

Roll rule (documented in at-core's CONTRACTS.md): the continuous ``ROOT1!`` is the first listed
contract whose *roll date* is after today, ``ROOT2!`` the one after it. A contract's roll date is
``FutureSpec.roll_business_days`` business days before its last trade date: 6 for the quarterly
equity index products (the Thursday eight calendar days before the third-Friday expiry, when CME
volume moves to the next quarter), 3 for the monthly energy contracts, 20 for metals. Business
days skip weekends and the CME Group holidays of the product's calendar.

A contract is expired after its last trade date (the date itself still trades). ``today`` is
always passed in: nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from at_core.models.futures_specs import FUTURE_SPECS, FutureSpec
from at_core.models.instruments import month_code

_MAX_SCAN_MONTHS = 36


@dataclass(frozen=True, slots=True)
class ContractMonth:
    """One listed contract of a product."""

    root: str
    year: int
    month: int
    last_trade: date
    roll_date: date

    @property
    def symbol(self) -> str:
        """The dated symbol, e.g. ``MESZ2026``."""
        return f"{self.root}{month_code(self.month)}{self.year:04d}"

    @property
    def contract_month(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def expired(self, today: date) -> bool:
        return today > self.last_trade


def _business_days_before(spec: FutureSpec, d: date, n: int) -> date:
    from at_core.markets.calendars import get_calendar

    cal = get_calendar(spec.calendar)
    while n > 0:
        d -= timedelta(days=1)
        if d.weekday() < 5 and cal.is_trading_day(d):
            n -= 1
    return d


@lru_cache(maxsize=4096)  # pure: every alert resolves its continuous symbol through here
def contract(root: str, year: int, month: int) -> ContractMonth:
    """The contract of ``root`` for ``year``/``month`` (listed or not: the caller checks ``spec.months``)."""
    spec = FUTURE_SPECS[root]
    last = spec.last_trade(year, month)
    return ContractMonth(root, year, month, last, _business_days_before(spec, last, spec.roll_business_days))


def listed(root: str, today: date) -> list[ContractMonth]:
    """The listed contracts of ``root`` not yet expired on ``today``, nearest first (up to 3 years out)."""
    spec = FUTURE_SPECS[root]
    out = []
    year, month = today.year, today.month
    for _ in range(_MAX_SCAN_MONTHS):
        if month_code(month) in spec.months:
            c = contract(root, year, month)
            if not c.expired(today):
                out.append(c)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


@lru_cache(maxsize=4096)
def continuous(root: str, rank: int, today: date) -> ContractMonth:
    """What ``ROOT{rank}!`` means on ``today``: the ``rank``-th listed contract not yet past its roll date."""
    if rank < 1:
        raise ValueError("rank starts at 1 (the front month)")
    live = [c for c in listed(root, today) if today < c.roll_date]
    return live[rank - 1]
