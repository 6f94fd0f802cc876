"""Prop-firm account rules over time: daily loss, trailing drawdown, static max loss. Pure.

The caller passes the time (ns) and the account's balance and equity on every fill and mark;
:class:`RuleState` keeps the day's starting value and the trailing peak, and says which
rules are breached and how much headroom each has left.

Semantics (each firm's, see docs/RISK_RULES.md): the daily floor is the day's *reference*
(balance or equity at the reset) less the limit, and the *measured* value (balance or equity)
is compared with it; a breach is strictly *below* a floor (equity exactly at the floor is not
a breach); the trailing floor follows the peak up and never moves down, stopping at its lock
level; a soft breach locks the account until the next trading day opens, a hard one halts it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from at_core.markets.calendars import get_calendar
from at_core.models.portfolio import RuleHeadroom
from at_core.models.risk import BreachKind, LossBasis, RiskProfile, TrailingBasis
from at_core.models.trusted import check_trusted, trusted

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ZERO = Decimal(0)
check_trusted(RuleHeadroom)
_HEADROOM_FIELDS = set(RuleHeadroom.model_fields)


#: The last trading day seen per (reset, zone), as [start, end) in ns: every mark of every holder
#: asks, and converting to local time each time was a tenth of the cost of a mark. A window is
#: kept only when the zone's offset does not change inside it (so local time, and the day,
#: cannot go back within it); the two days a year with a DST change are computed every time.
_DAYS: dict[tuple[time, str], tuple[int, int, date]] = {}


def trading_day(ts_ns: int, reset: time, tz: str) -> date:
    """The trading day a timestamp belongs to: days start at ``reset`` in ``tz``."""
    known = _DAYS.get((reset, tz))
    if known is not None and known[0] <= ts_ns < known[1]:
        return known[2]
    day = _local_trading_day(ts_ns, reset, tz)
    start, end = day_end_ns(day - timedelta(days=1), reset, tz), day_end_ns(day, reset, tz)
    if start <= ts_ns < end and _offset(start, tz) == _offset(end - 1, tz):
        _DAYS[(reset, tz)] = (start, end, day)
    return day


def _utc(ts_ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ts_ns // 1_000)  # exact: a float of ns rounds across the reset


def _offset(ts_ns: int, tz: str) -> timedelta | None:
    return _utc(ts_ns).astimezone(ZoneInfo(tz)).utcoffset()


def _local_trading_day(ts_ns: int, reset: time, tz: str) -> date:
    local = _utc(ts_ns).astimezone(ZoneInfo(tz))
    shifted = local - timedelta(hours=reset.hour, minutes=reset.minute, seconds=reset.second)
    return shifted.date()


def day_end_ns(day: date, reset: time, tz: str) -> int:
    """When trading ``day`` ends (ns): the next day's ``reset`` in ``tz``."""
    end = datetime.combine(day + timedelta(days=1), reset, tzinfo=ZoneInfo(tz))
    return int(end.timestamp()) * 1_000_000_000


@dataclass
class RuleState:
    profile: RiskProfile
    day: date | None = None
    day_start_balance: Decimal = Decimal(0)
    day_start_equity: Decimal = Decimal(0)
    peak: Decimal = field(default=Decimal(0))
    #: the profile's daily amount, whether the daily rule measures the balance, the trailing and
    #: static amounts: read once (the profile does not change)
    _static: tuple[Decimal | None, bool, Decimal | None, Decimal | None] | None = field(
        default=None, repr=False, compare=False
    )
    #: the floors at the last (peak, day's starting balance, day's starting equity): a mark moves
    #: equity, rarely these, so each mark reads the floors instead of computing them again
    _floors: tuple[tuple[Decimal, Decimal, Decimal], tuple[Decimal | None, Decimal | None, Decimal | None]] | None = (
        field(default=None, repr=False, compare=False)
    )
    #: [start, end) ns of ``day``: a mark inside it is on the same day, no zone lookup (0, 0: none kept)
    _day_window: tuple[int, int] = field(default=(0, 0), repr=False, compare=False)

    def __post_init__(self) -> None:
        start = self.profile.starting_balance
        self.day_start_balance = self.day_start_equity = self.peak = start

    def reset_spec(self) -> tuple[time, str]:
        dl = self.profile.limits.daily_loss
        return (dl.reset_time, dl.timezone) if dl else (time(17, 0), "America/Chicago")

    def update(self, ts_ns: int, balance: Decimal, equity: Decimal) -> None:
        """Roll the day if needed and move the trailing peak."""
        trailing = self.profile.limits.trailing_drawdown
        if self.day is None or not self._day_window[0] <= ts_ns < self._day_window[1]:
            reset, tz = self.reset_spec()
            today = trading_day(ts_ns, reset, tz)
            known = _DAYS.get((reset, tz))  # the window trading_day keeps, if it keeps one for this day
            inside = known is not None and known[2] == today and known[0] <= ts_ns < known[1]
            self._day_window = (known[0], known[1]) if known is not None and inside else (0, 0)
            if self.day is None:
                self.day = today
            elif today != self.day:
                if trailing and trailing.basis is TrailingBasis.END_OF_DAY_BALANCE:
                    self.peak = max(self.peak, balance)
                self.day, self.day_start_balance, self.day_start_equity = today, balance, equity
        if trailing and trailing.basis is TrailingBasis.INTRADAY_REALIZED:
            self.peak = max(self.peak, balance)
        elif trailing and trailing.basis is TrailingBasis.INTRADAY_UNREALIZED:
            self.peak = max(self.peak, equity)

    def trailing_floor(self) -> Decimal | None:
        trailing = self.profile.limits.trailing_drawdown
        if trailing is None:
            return None
        floor = self.peak - trailing.amount
        if trailing.stop_trailing_at_offset is not None:
            floor = min(floor, self.profile.starting_balance + trailing.stop_trailing_at_offset)
        return floor

    def daily_floor(self) -> Decimal | None:
        dl = self.profile.limits.daily_loss
        if dl is None:
            return None
        start = self.day_start_equity if dl.reference_basis is LossBasis.EQUITY else self.day_start_balance
        return start - dl.amount

    def static_floor(self) -> Decimal | None:
        sm = self.profile.limits.static_max_loss
        return None if sm is None else self.profile.starting_balance - sm.amount

    def floors(self) -> dict[str, Decimal]:
        out = {}
        for rule, floor in (
            ("daily_loss", self.daily_floor()),
            ("trailing_drawdown", self.trailing_floor()),
            ("static_max_loss", self.static_floor()),
        ):
            if floor is not None:
                out[rule] = floor
        return out

    def headroom(self, balance: Decimal, equity: Decimal) -> list[RuleHeadroom]:
        """Each rule's room left at ``balance`` and ``equity`` (made for every mark of every holder:
        the rules' static parts are read once, the models built without re-validating Decimals the
        rules computed themselves)."""
        if self._static is None:
            limits = self.profile.limits
            dl = limits.daily_loss
            self._static = (
                dl.amount if dl else None,
                bool(dl and dl.basis is LossBasis.BALANCE),
                limits.trailing_drawdown.amount if limits.trailing_drawdown else None,
                limits.static_max_loss.amount if limits.static_max_loss else None,
            )
        daily_amount, daily_on_balance, trailing_amount, static_amount = self._static
        out: list[RuleHeadroom] = []
        if daily_amount is None and trailing_amount is None and static_amount is None:
            return out  # a profile without loss rules (retail): no floors to compute
        peak, start_balance, start_equity = self.peak, self.day_start_balance, self.day_start_equity
        kept = self._floors
        # by identity, not value: 50000 and 50000.00 are equal, but their floors print differently
        if kept is None or not (kept[0][0] is peak and kept[0][1] is start_balance and kept[0][2] is start_equity):
            kept = self._floors = (
                (peak, start_balance, start_equity),
                (self.daily_floor(), self.trailing_floor(), self.static_floor()),
            )
        daily, trailing, static = kept[1]
        for rule, floor, limit, value in (
            ("daily_loss", daily, daily_amount, balance if daily_on_balance else equity),
            ("trailing_drawdown", trailing, trailing_amount, equity),
            ("static_max_loss", static, static_amount, equity),
        ):
            if floor is None:
                continue
            room = value - floor
            limit = limit or _ZERO
            used = limit - room
            out.append(
                trusted(
                    RuleHeadroom,
                    {
                        "rule": rule,
                        "limit": limit,
                        "used": used if used >= _ZERO else _ZERO,  # as max(used, 0): a zero keeps its digits
                        "headroom": room,
                        "floor": floor,
                    },
                    _HEADROOM_FIELDS,
                )
            )
        return out

    def breaches(self, balance: Decimal, equity: Decimal) -> list[str]:
        """Rules whose floor the account is strictly below (at the floor is not a breach)."""
        return [h.rule for h in self.headroom(balance, equity) if h.headroom < 0]

    def breach_kind(self, rule: str) -> BreachKind:
        """Soft (lock until the next trading day) or hard (halt): only a daily loss limit can be soft."""
        dl = self.profile.limits.daily_loss
        return dl.breach if rule == "daily_loss" and dl is not None else BreachKind.HARD

    def soft_lock_until_ns(self, now_ns: int) -> int:
        """When a soft breach at ``now_ns`` lifts: the next trading day's open (the daily reset, or
        the daily-loss calendar's first session open at or after it: after a Friday, Sunday 17:00)."""
        reset, tz = self.reset_spec()
        end = day_end_ns(trading_day(now_ns, reset, tz), reset, tz)
        dl = self.profile.limits.daily_loss
        if dl is None or dl.calendar is None:
            return end
        cal = get_calendar(dl.calendar)
        if cal.is_open(end):
            return end
        nxt = cal.next_open_ns(end)
        return end if nxt is None else nxt
