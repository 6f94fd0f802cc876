"""Injected time. Nothing in the system reads the wall clock except ``WallClock``.

Timestamps are integer nanoseconds since the Unix epoch, UTC (see docs/CONTRACTS.md).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

NANOS_PER_SECOND = 1_000_000_000
NANOS_PER_MILLI = 1_000_000


@runtime_checkable
class Clock(Protocol):
    """Source of time for a component."""

    def now_ns(self) -> int:
        """Return the current time as UTC nanoseconds since the epoch."""
        ...


class WallClock:
    """The real clock, for live mode."""

    def now_ns(self) -> int:
        return time.time_ns()


class ManualClock:
    """A clock that moves only when told: for tests and replay.

    In replay mode a service calls :meth:`advance_to` with each event's ``ts_event``,
    so its notion of "now" follows the recording, never the wall.
    """

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns

    def now_ns(self) -> int:
        return self._now

    def set(self, ts_ns: int) -> None:
        self._now = ts_ns

    def advance_to(self, ts_ns: int) -> None:
        """Move forward to ``ts_ns``; never moves backwards."""
        if ts_ns > self._now:
            self._now = ts_ns

    def advance(self, delta_ns: int) -> None:
        self._now += delta_ns


def ns_to_datetime(ts_ns: int) -> datetime:
    """Convert UTC nanoseconds to an aware ``datetime`` (microsecond precision)."""
    return datetime.fromtimestamp(ts_ns / NANOS_PER_SECOND, tz=UTC)


def datetime_to_ns(dt: datetime) -> int:
    """Convert an aware ``datetime`` to UTC nanoseconds. Naive datetimes are refused."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime: attach a time zone (UTC) first")
    delta = dt.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * NANOS_PER_SECOND + delta.microseconds * 1_000
