"""Held futures contracts near their last trade date: which to warn about, once a day. Pure.

A profile's ``expiry_warning_days`` says how many calendar days before a held contract's last
trade date exec-sim starts warning (``contract_expiry_warning``, one per account, contract and
day, counted by ``exec_sim_contract_expiry_warnings_total``). An undated (continuous) contract
has no expiry and is never warned about.

Auto-roll is not offered: exec-sim never moves a position to the next month by itself. Rolling
is a trade (a close and an open, two fills, two fees, a spread) that the account's rules must
approve like any other, and a roll the trader did not ask for could breach a firm's limit. The
warning says so; after the last trade date only reducing orders pass (``contract_expired``).
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


def warning_message(instrument_id: str, last_trade: date, days_left: int) -> str:
    """What the warning tells the trader: when, and that nothing will roll for them."""
    return (
        f"{instrument_id} last trades on {last_trade.isoformat()} ({days_left} days): roll or close it; "
        "exec-sim does not roll positions (auto-roll is not offered) and after that date only reducing orders pass"
    )
