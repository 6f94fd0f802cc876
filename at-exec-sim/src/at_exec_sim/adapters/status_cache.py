"""Order states a broker's real-time connection vouches for, so a poll round does not spend the
request budget asking again about orders nothing was pushed for.

An answer is reused only while the connection is up, no push or reconnect arrived since it was
taken, and it is younger than ``max_age_s`` (so every order is still asked now and then); any
push, reconnect, placement, cancel or modification forgets every answer.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from at_exec_sim.domain.ports import ExecutionReport, ReportStatus

#: Only a resting order's answer is kept: an end or an absence is asked again.
RESTING = (ReportStatus.ACCEPTED, ReportStatus.PARTIALLY_FILLED)


class StatusCache:
    """Recent ``order_status`` answers, forgotten on every sign of change."""

    def __init__(
        self, live: Callable[[], bool], max_age_s: float = 30.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._live = live  # the real-time connection is up and someone listens to it
        self.max_age_s = max_age_s
        self._now = monotonic
        self._answers: dict[str, tuple[float, ExecutionReport]] = {}
        self.hits = 0

    def get(self, client_order_id: str) -> ExecutionReport | None:
        entry = self._answers.get(client_order_id)
        if entry is None or not self._live() or self._now() - entry[0] > self.max_age_s:
            return None
        self.hits += 1
        return entry[1]

    def put(self, report: ExecutionReport) -> None:
        self._answers[report.client_order_id] = (self._now(), report)

    async def status(self, client_order_id: str, ask: Callable[[str], Awaitable[ExecutionReport]]) -> ExecutionReport:
        """The vouched-for answer, else ``ask(client_order_id)`` (kept when the order rests)."""
        if (cached := self.get(client_order_id)) is not None:
            return cached
        report = await ask(client_order_id)
        if report.status in RESTING:
            self.put(report)
        return report

    def forget(self, _reason: str = "") -> None:
        self._answers.clear()
