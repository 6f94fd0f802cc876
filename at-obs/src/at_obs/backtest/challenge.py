"""A prop-firm challenge's rules and one account's path through them, day by day (pure).

The account is judged at each day's end on that day's P&L (in cents, exactly):

1. **daily loss**: the day lost ``daily_loss_limit`` or more: failed; with ``daily_loss_soft``
   (Topstep's combine) a soft breach instead: the day counts as it closed (the live risk engine
   halted the account that day) and the challenge goes on.
2. **trailing drawdown**: the floor starts ``trailing_drawdown`` below the starting balance and
   rises with the highest end-of-day balance (never falls) until it reaches the lock level,
   ``starting_balance + trailing_lock_offset``, where it stays. A balance at or below the
   floor: failed.
3. **profit target**: the balance is ``profit_target`` or more above the start and at least
   ``min_days`` days were traded: passed. Reached earlier, the challenge goes on (and can
   still fail) until the minimum days are in.
4. ``max_days`` days without either: ``time_limit`` (or ``running`` when there is no limit and
   the path ran out).

Intraday paths are not modelled: a day that dips through a limit and recovers by its close
counts as its close (see docs/BACKTEST.md, "Limits").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from at_obs.backtest.errors import BacktestError

PASSED, DAILY_LOSS, TRAILING_DRAWDOWN, TIME_LIMIT, RUNNING = (
    "passed", "daily_loss", "trailing_drawdown", "time_limit", "running",
)  # fmt: skip
FAILURES = (DAILY_LOSS, TRAILING_DRAWDOWN, TIME_LIMIT)


def cents(amount: Decimal | float | int | str) -> int:
    return int((Decimal(str(amount)) * 100).to_integral_value())


class RulesError(BacktestError, ValueError):
    """Challenge rules that are missing or contradictory."""


@dataclass(frozen=True, slots=True)
class ChallengeRules:
    """The rules, in cents (``None``: the rule does not apply)."""

    starting_balance: int
    profit_target: int
    trailing_drawdown: int | None = None
    trailing_lock_offset: int | None = 0
    daily_loss_limit: int | None = None
    min_days: int = 1
    max_days: int | None = None
    daily_loss_soft: bool = False

    def __post_init__(self) -> None:
        if self.profit_target <= 0:
            raise RulesError("profit_target must be greater than zero")
        for name in ("trailing_drawdown", "daily_loss_limit"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise RulesError(f"{name} must be greater than zero (or left out)")
        if self.min_days < 1 or (self.max_days is not None and self.max_days < self.min_days):
            raise RulesError("need 1 <= min_days <= max_days")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], base: ChallengeRules | None = None) -> ChallengeRules:
        """Rules from a small YAML / command-line mapping (amounts in currency), over ``base``.

        Raises:
            RulesError: an unknown key, a bad value, or no starting balance / profit target.
        """
        money = ("starting_balance", "profit_target", "trailing_drawdown", "trailing_lock_offset", "daily_loss_limit")
        days = ("min_days", "max_days")
        flags = ("daily_loss_soft",)
        unknown = sorted(set(data) - set(money) - set(days) - set(flags))
        if unknown:
            known = ", ".join(money + days + flags)
            raise RulesError(f"unknown challenge rule(s): {', '.join(unknown)} (known: {known})")
        fields: dict[str, Any] = {}
        if base is not None:
            fields = {k: getattr(base, k) for k in money + days + flags}
        if "daily_loss_soft" in data:
            if not isinstance(data["daily_loss_soft"], bool):
                raise RulesError("daily_loss_soft must be true or false")
            fields["daily_loss_soft"] = data["daily_loss_soft"]
        try:
            for key in money:
                if key in data:
                    fields[key] = None if data[key] is None else cents(data[key])
            for key in days:
                if key in data:
                    fields[key] = None if data[key] is None else int(data[key])
        except (ArithmeticError, ValueError, TypeError) as exc:
            raise RulesError(f"bad challenge rule value: {exc}") from exc
        for key in ("starting_balance", "profit_target"):
            if fields.get(key) is None:
                raise RulesError(f"{key} is required")
        return cls(**fields)

    @classmethod
    def from_exec_sim_profile(cls, profile: Mapping[str, Any], profit_target: Decimal) -> ChallengeRules:
        """The starting balance, daily loss and trailing drawdown of an exec-sim rule-profile YAML.

        Raises:
            RulesError: the mapping is not such a profile.
        """
        try:
            limits = profile.get("limits") or {}
            daily = limits.get("daily_loss") or {}
            trail = limits.get("trailing_drawdown") or {}
            offset = trail.get("stop_trailing_at_offset")
            return cls(
                starting_balance=cents(profile["starting_balance"]),
                profit_target=cents(profit_target),
                daily_loss_limit=cents(daily["amount"]) if daily.get("amount") else None,
                trailing_drawdown=cents(trail["amount"]) if trail.get("amount") else None,
                trailing_lock_offset=None if offset is None else cents(offset),
            )
        except (KeyError, AttributeError, ArithmeticError, ValueError, TypeError) as exc:
            raise RulesError(f"not an exec-sim rule profile: {exc!r}") from exc


@dataclass(frozen=True, slots=True)
class Outcome:
    """``status`` (passed or a failure rule, or running), on which day (1-based), the balances."""

    status: str
    day: int
    balance: int
    floor: int | None


@dataclass(frozen=True, slots=True)
class DayState:
    """The account at one day's end: the day's P&L, the balance and the trailing floor (cents)."""

    day: int
    pnl: int
    balance: int
    floor: int | None


def run_challenge(daily_pnl: Sequence[int], rules: ChallengeRules, trace: list[DayState] | None = None) -> Outcome:
    """Judge a path of daily P&L (cents) against the rules; stops at the first pass or failure.

    Args:
        trace: when given, each judged day's state is appended (the floor as it stood that day).
    """
    balance = rules.starting_balance
    dd, lock = rules.trailing_drawdown, rules.trailing_lock_offset
    floor = None if dd is None else balance - dd
    ceiling = None if dd is None or lock is None else rules.starting_balance + lock
    peak = balance
    for day, pnl in enumerate(daily_pnl, start=1):
        balance += pnl
        if trace is not None:
            trace.append(DayState(day, pnl, balance, floor))
        daily_breach = rules.daily_loss_limit is not None and -pnl >= rules.daily_loss_limit
        if daily_breach and not rules.daily_loss_soft:
            return Outcome(DAILY_LOSS, day, balance, floor)
        if floor is not None and dd is not None:
            if balance <= floor:
                return Outcome(TRAILING_DRAWDOWN, day, balance, floor)
            peak = max(peak, balance)
            trailed = peak - dd
            floor = max(floor, trailed if ceiling is None else min(trailed, ceiling))
        if balance - rules.starting_balance >= rules.profit_target and day >= rules.min_days:
            return Outcome(PASSED, day, balance, floor)
        if rules.max_days is not None and day >= rules.max_days:
            return Outcome(TIME_LIMIT, day, balance, floor)
    return Outcome(RUNNING, len(daily_pnl), balance, floor)
