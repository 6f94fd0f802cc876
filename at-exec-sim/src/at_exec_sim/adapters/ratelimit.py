"""A client-side request budget: at most ``limit`` requests in any ``window_s`` seconds, kept
below what a broker publishes, plus a pause the broker can impose (an HTTP 429, a penalty ticket).

Time and sleeping are injected, so the budget is tested without waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable


class RequestBudget:
    """A sliding-window budget shared by every request of one broker connection."""

    def __init__(
        self,
        limit: int,
        window_s: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError(f"a budget needs limit >= 1 and window_s > 0, got {limit} in {window_s}")
        self.limit = limit
        self.window_s = window_s
        self._now = monotonic
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        self.waited_s = 0.0  # total time spent waiting for the budget or a pause (a metric's source)
        self.waits = 0  # requests held before they left
        #: Told once per request the budget holds (the broker-health sink's ``budget_waited``).
        self.on_wait: Callable[[], None] | None = None

    def pause(self, seconds: float) -> None:
        """The broker asked us to wait (429, penalty): no request leaves before ``seconds`` from now."""
        self._paused_until = max(self._paused_until, self._now() + max(seconds, 0.0))

    @property
    def paused_for(self) -> float:
        """Seconds left of a pause the broker imposed (0 when none)."""
        return max(0.0, self._paused_until - self._now())

    async def acquire(self) -> None:
        """Wait until one more request fits the budget and no pause holds, then count it."""
        async with self._lock:  # requests leave one at a time, in order
            held = False
            while True:
                now = self._now()
                while self._sent and self._sent[0] <= now - self.window_s:
                    self._sent.popleft()
                wait = self._paused_until - now
                if len(self._sent) >= self.limit:
                    wait = max(wait, self._sent[0] + self.window_s - now)
                if wait <= 0:
                    self._sent.append(now)
                    return
                self.waited_s += wait
                if not held:
                    held, self.waits = True, self.waits + 1
                    if self.on_wait is not None:
                        self.on_wait()
                await self._sleep(wait)
