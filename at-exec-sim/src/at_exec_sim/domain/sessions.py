"""Trading sessions: when a profile's windows open and close, and which close flattens. Pure.

A window opens at ``start`` on each of its ``days`` (ISO weekday of the start, 0 = Monday) in its
time zone and closes at ``end``, the next day when ``end`` is not after ``start`` (an overnight
futures session). Times are exact integer nanoseconds, so a cutoff is neither early nor late.

A window with a ``calendar`` is cut to that market's real sessions (``at_core.markets.calendars``):
on a holiday it does not open, and on an early close it ends (and flattens) at the early close.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from at_core.clock import datetime_to_ns
from at_core.markets.calendars import get_calendar
from at_core.models.risk import RiskProfile, SessionWindow

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SPAN_DAYS = 8  # every window repeats weekly: a week either side finds the last close and the next open


@dataclass(frozen=True)
class Session:
    """One occurrence of a window: [start_ns, end_ns)."""

    start_ns: int
    end_ns: int
    window: SessionWindow


@dataclass(frozen=True)
class SessionStatus:
    """Where ``now`` stands against a profile's windows."""

    open: bool
    last_close: Session | None  # the latest session that ended at or before now
    reopen_ns: int | None  # when the first session after ``last_close`` starts
    next_change_ns: int | None  # the next start or end after now: nothing changes before it


def _local_date(ts_ns: int, tz: ZoneInfo) -> date:
    return (_EPOCH + timedelta(microseconds=ts_ns // 1_000)).astimezone(tz).date()


def occurrences(windows: list[SessionWindow], now_ns: int) -> list[Session]:
    """Every session of ``windows`` starting within about a week of ``now_ns``, by start."""
    out = []
    for w in windows:
        tz = ZoneInfo(w.timezone)
        today = _local_date(now_ns, tz)
        for offset in range(-_SPAN_DAYS, _SPAN_DAYS + 1):
            day = today + timedelta(days=offset)
            if day.weekday() not in w.days:
                continue
            end_day = day if w.start <= w.end else day + timedelta(days=1)
            start = datetime_to_ns(datetime.combine(day, w.start, tzinfo=tz))
            end = datetime_to_ns(datetime.combine(end_day, w.end, tzinfo=tz))
            if start < end:
                out.extend(_cut(Session(start, end, w)))
    return sorted(out, key=lambda s: (s.start_ns, s.end_ns))


def profile_calendars(profiles: Iterable[RiskProfile]) -> list[str]:
    """Every market calendar the profiles' windows and soft breaches use (to preload at start)."""
    names = [w.calendar for p in profiles for w in p.limits.sessions if w.calendar]
    names += [p.limits.daily_loss.calendar for p in profiles if p.limits.daily_loss and p.limits.daily_loss.calendar]
    return sorted(set(names))


def _cut(session: Session) -> list[Session]:
    """The parts of a window's occurrence inside its calendar's sessions (all of it without one)."""
    w = session.window
    if w.calendar is None:
        return [session]
    return [
        Session(max(session.start_ns, s.open_ns), min(session.end_ns, s.close_ns), w)
        for s in get_calendar(w.calendar).sessions(session.start_ns, session.end_ns)
    ]


def in_session(windows: list[SessionWindow], now_ns: int) -> bool:
    """True inside any window, or when there are no windows (trading around the clock)."""
    return not windows or any(s.start_ns <= now_ns < s.end_ns for s in occurrences(windows, now_ns))


def status(windows: list[SessionWindow], now_ns: int) -> SessionStatus:
    """Whether a session is open at ``now_ns``, the last close before it and when that close reopened."""
    sessions = occurrences(windows, now_ns)
    is_open = any(s.start_ns <= now_ns < s.end_ns for s in sessions)
    changes = [t for s in sessions for t in (s.start_ns, s.end_ns) if t > now_ns]
    closed = [s for s in sessions if s.end_ns <= now_ns]
    last = max(closed, key=lambda s: s.end_ns) if closed else None
    reopen = None
    if last is not None:
        starts = [s.start_ns for s in sessions if s.start_ns >= last.end_ns]
        reopen = min(starts) if starts else None
    return SessionStatus(is_open, last, reopen, min(changes) if changes else None)
