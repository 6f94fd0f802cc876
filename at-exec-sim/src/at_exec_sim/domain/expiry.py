"""Held futures contracts near their last trade date: which to warn about, once a day. Pure.

A profile's ``expiry_warning_days`` says how many calendar days before a held contract's last
trade date exec-sim starts warning (``contract_expiry_warning``, one per account, contract and
day, counted by ``exec_sim_contract_expiry_warnings_total``). An undated (continuous) contract
has no expiry and is never warned about.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from at_core.models.instruments import FutureContract
from at_exec_sim.domain.portfolio import Account, Position


@dataclass(frozen=True, slots=True)
class Expiring:
    position: Position
    last_trade: date
    days_left: int


def expiring(account: Account, today: date, warn_days: int) -> list[Expiring]:
    """Positions in dated futures whose last trade date is within ``warn_days`` of ``today``."""
    out = []
    for pos in account.positions.values():
        inst = pos.instrument
        if pos.quantity == 0 or not isinstance(inst, FutureContract) or inst.expiry is None:
            continue
        days_left = (inst.expiry - today).days
        if 0 <= days_left <= warn_days:
            out.append(Expiring(pos, inst.expiry, days_left))
    return out


def utc_date(ts_ns: int) -> date:
    """The UTC calendar date of ``ts_ns`` (exact: integer arithmetic)."""
    return date.fromordinal(date(1970, 1, 1).toordinal() + ts_ns // (86_400 * 10**9))
