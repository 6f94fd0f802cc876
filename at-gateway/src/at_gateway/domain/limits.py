"""Rate limiting and TradingView's 15-alerts-in-3-minutes watch. Time is passed in (ns)."""

from __future__ import annotations

import ipaddress
from collections import deque
from collections.abc import Iterable, Sequence


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

    def count(self, key: str, now_ns: int) -> int:
        """Requests counted for ``key`` in the last minute."""
        return self._window.count(key, now_ns)

    def allow(self, key: str, now_ns: int) -> bool:
        if self._window.count(key, now_ns) >= self.limit:
            return False
        self._window.add(key, now_ns)
        return True


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted_proxies: Iterable[str]) -> str:
    """The real client address, read right to left through the trusted proxies.

    ``forwarded_for`` is every ``X-Forwarded-For`` header line in the order received: a proxy may
    append its own line rather than extend the last one, so all lines are joined, then the hops are
    read from the right, skipping trusted proxies; the first untrusted hop is the client. Without a
    trusted peer, the header is ignored (anyone can write it). A hop that is not an IP address is
    answered as ``"invalid"`` (bounded: it cannot mint rate-limit keys).
    """
    if peer is None:
        return "unknown"
    trusted = TrustedProxies(trusted_proxies) if not isinstance(trusted_proxies, TrustedProxies) else trusted_proxies
    if not trusted.contains(peer):
        return peer
    hops = [h.strip() for line in forwarded_for for h in line.split(",") if h.strip()]
    for hop in reversed(hops):
        if not trusted.contains(hop):
            return _normalised(hop)
    return peer


def _normalised(hop: str) -> str:
    try:
        return str(ipaddress.ip_address(hop))
    except ValueError:
        return "invalid"


class TrustedProxies:
    """Proxy addresses and networks (``10.0.0.1``, ``10.0.0.0/8``) whose X-Forwarded-For is believed."""

    def __init__(self, entries: Iterable[str]) -> None:
        self._networks = []
        self._answers: dict[str, bool] = {}
        for entry in entries:
            try:
                self._networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError as exc:
                raise ValueError(f"not an address or network: {entry!r}") from exc

    _KEEP = 1024  # answers kept per address (peers are few; forged hops cannot grow it past this)

    def contains(self, address: str) -> bool:
        if not self._networks:  # the default: no proxy is trusted, nothing to parse
            return False
        known = self._answers.get(address)
        if known is None:
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                known = False
            else:
                known = any(ip in net for net in self._networks)
            if len(self._answers) >= self._KEEP:
                self._answers.clear()
            self._answers[address] = known
        return known
