"""Session and news guard: no new trades outside trading hours or inside blackout windows (a veto).

Trading hours come from real market calendars (``at_core.markets.calendars``: CME Group holidays
and early closes, FX Sunday 17:00 to Friday 17:00 New York, crypto always open), one per asset
class (setting ``AT_AGENTS_SESSION_CALENDARS``); explicit ``hours`` windows, where given, win.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import ClassVar
from zoneinfo import ZoneInfo

from at_agents.domain.analysis import Analysis
from at_agents.domain.context import MarketContext
from at_core.events import SignalEvent
from at_core.markets.calendars import get_calendar
from at_core.models.enums import SignalAction, Stance


@dataclass(frozen=True)
class Window:
    start: time
    end: time
    timezone: str = "America/New_York"
    days: tuple[int, ...] = (0, 1, 2, 3, 4, 6)

    def contains(self, ts_ns: int) -> bool:
        local = datetime.fromtimestamp(ts_ns / 1e9, tz=UTC).astimezone(ZoneInfo(self.timezone))
        t, day = local.time(), local.weekday()
        if self.start <= self.end:
            return day in self.days and self.start <= t < self.end
        return (day in self.days and t >= self.start) or ((day - 1) % 7 in self.days and t < self.end)


@dataclass(frozen=True)
class Blackout:
    start_ns: int
    end_ns: int
    reason: str


@dataclass
class SessionGuard:
    """Vetoes entries outside ``hours`` or the asset class's calendar, or inside a blackout.

    An asset class with neither hours nor a calendar is always open.
    """

    agent_id: str = "session_guard"
    kind: str = "rule"
    # pure; calendars preloaded at start (another year builds once, seconds: dropped, logged)
    inline: ClassVar[bool] = True
    hours: dict[str, list[Window]] = field(default_factory=dict)
    calendars: dict[str, str] = field(default_factory=dict)  # asset class -> calendar name
    blackouts: list[Blackout] = field(default_factory=list)

    def analyze(self, signal: SignalEvent, ctx: MarketContext, now_ns: int) -> Analysis:
        exiting = signal.action is SignalAction.EXIT or (signal.position_size is not None and signal.position_size == 0)
        for b in self.blackouts:
            if b.start_ns <= now_ns < b.end_ns and not exiting:
                return Analysis(stance=Stance.FLAT, conviction=Decimal(0), veto=True, rationale=f"blackout: {b.reason}")
        windows = self.hours.get(str(signal.asset_class), [])
        if windows and not any(w.contains(now_ns) for w in windows) and not exiting:
            return Analysis(
                stance=Stance.FLAT,
                conviction=Decimal(0),
                veto=True,
                rationale=f"outside {signal.asset_class} trading hours",
            )
        calendar = self.calendars.get(str(signal.asset_class))
        if not windows and calendar and not exiting and not get_calendar(calendar).is_open(now_ns):
            return Analysis(
                stance=Stance.FLAT,
                conviction=Decimal(0),
                veto=True,
                rationale=f"{calendar} is closed (weekend, holiday or after an early close)",
            )
        return Analysis(stance=Stance.FLAT, conviction=Decimal(0), rationale="inside trading hours, no blackout")
