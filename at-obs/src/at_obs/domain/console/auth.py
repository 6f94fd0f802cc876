"""Console sign-in: roles, key checks, signed session cookies and CSRF tokens. Pure.

A session is ``role.expires_s.nonce.mac`` where ``mac = HMAC-SHA256(secret, role.expires_s.nonce)``:
it names a role, never a key, so a stolen cookie ends when it expires and no key can be
read back from it. The CSRF token is the HMAC of the session under another label, so a page
can only post with the token of the session that rendered it (a cross-site form has neither).
"""

from __future__ import annotations

import hashlib
import hmac
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    """What a signed-in person may do."""

    VIEWER = "viewer"  # reads every page
    TRADER = "trader"  # the same pages; a role of its own for what traders will get to do
    OPERATOR = "operator"  # may also press the kill switch and resume


RANK = {Role.VIEWER: 0, Role.TRADER: 1, Role.OPERATOR: 2}


@dataclass(frozen=True)
class Session:
    role: Role
    expires_s: int
    token: str  # the cookie value


def role_for_key(key: str, keys: dict[Role, str]) -> Role | None:
    """The role whose key is ``key``, compared in constant time against every key; None if none."""
    found: Role | None = None
    given = key.encode()
    for role, expected in keys.items():
        if expected and hmac.compare_digest(given, expected.encode()):
            found = role  # no early return: every key is compared whatever matches
    return found


def _mac(secret: str, label: str, message: str) -> str:
    return hmac.new(secret.encode(), f"{label}:{message}".encode(), hashlib.sha256).hexdigest()


def issue_session(secret: str, role: Role, now_s: int, ttl_s: int, nonce: str) -> Session:
    """A session for ``role`` that ends ``ttl_s`` seconds after ``now_s``."""
    body = f"{role.value}.{now_s + ttl_s}.{nonce}"
    return Session(role, now_s + ttl_s, f"{body}.{_mac(secret, 'session', body)}")


def read_session(secret: str, token: str, now_s: int) -> Session | None:
    """The session a cookie holds, or None when it is forged, altered, malformed or expired."""
    parts = token.split(".")
    if len(parts) != 4:
        return None
    role_s, expires_s, nonce, mac = parts
    body = f"{role_s}.{expires_s}.{nonce}"
    if not hmac.compare_digest(mac.encode(), _mac(secret, "session", body).encode()):
        return None
    try:
        role, expires = Role(role_s), int(expires_s)
    except ValueError:
        return None
    if expires <= now_s:
        return None
    return Session(role, expires, token)


def csrf_token(secret: str, session: Session) -> str:
    """The CSRF token that forms rendered for ``session`` carry."""
    return _mac(secret, "csrf", session.token)


def csrf_ok(secret: str, session: Session, given: str) -> bool:
    return hmac.compare_digest(given.encode(), csrf_token(secret, session).encode())


@dataclass
class LoginThrottle:
    """At most ``max_failures`` wrong keys per address in ``window_s``; then sign-in waits (time passed in)."""

    max_failures: int = 5
    window_s: float = 60.0
    failures: dict[str, deque[float]] = field(default_factory=dict)

    def allowed(self, address: str, now_s: float) -> bool:
        recent = self.failures.get(address)
        if recent is None:
            return True
        while recent and recent[0] <= now_s - self.window_s:
            recent.popleft()
        if not recent:
            del self.failures[address]
            return True
        return len(recent) < self.max_failures

    def failed(self, address: str, now_s: float) -> None:
        if len(self.failures) > 10_000:  # a spray from many addresses cannot grow this without bound
            self.failures.clear()
        self.failures.setdefault(address, deque()).append(now_s)
