"""Rate limiting and TradingView's 15-alerts-in-3-minutes watch. Time is passed in (ns)."""

from __future__ import annotations

from collections import deque


class SlidingWindow:
    """Counts events per key in the last ``window_s`` seconds.

    Keys whose window has emptied are forgotten (on their next look-up, and by a sweep whenever
    the number of keys doubles), so memory follows the keys seen in the last window, not every
    key ever seen: a client forging X-Forwarded-For addresses cannot grow it without bound.
    """

    MIN_SWEEP = 1024

    def __init__(self, window_s: float) -> None:
        self._window_ns = int(window_s * 1_000_000_000)
        self._hits: dict[str, deque[int]] = {}
        self._sweep_at = self.MIN_SWEEP

    def add(self, key: str, now_ns: int) -> int:
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self._sweep_at:
                self._sweep(now_ns)
            hits = self._hits[key] = deque()
        hits.append(now_ns)
        return self.count(key, now_ns)

    def count(self, key: str, now_ns: int) -> int:
        hits = self._hits.get(key)
        if hits is None:
            return 0
        while hits and hits[0] <= now_ns - self._window_ns:
            hits.popleft()
        if not hits:
            del self._hits[key]
        return len(hits)

    def __len__(self) -> int:
        """Keys held now (some may have expired since their last look-up)."""
        return len(self._hits)

    def _sweep(self, now_ns: int) -> None:
        for key in list(self._hits):
            self.count(key, now_ns)
        self._sweep_at = max(self.MIN_SWEEP, 2 * len(self._hits))


class RateLimiter:
    """At most ``limit`` requests per minute per key."""

    def __init__(self, limit_per_minute: int) -> None:
        self.limit = limit_per_minute
        self._window = SlidingWindow(60.0)

    def __len__(self) -> int:
        return len(self._window)

    def allow(self, key: str, now_ns: int) -> bool:
        if self._window.count(key, now_ns) >= self.limit:
            return False
        self._window.add(key, now_ns)
        return True


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: set[str]) -> str:
    """The real client: the peer, unless the peer is a trusted proxy, then the last untrusted X-Forwarded-For hop."""
    if peer is None:
        return "unknown"
    if peer not in trusted_proxies or not forwarded_for:
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if hop not in trusted_proxies:
            return hop
    return peer
