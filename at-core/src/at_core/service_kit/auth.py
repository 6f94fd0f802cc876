"""Bearer API keys with scopes: who may halt, trade, propose or read.

Keys come from settings (``AT_<SERVICE>_API_KEYS``) as ``scope:key`` pairs separated by
commas, e.g. ``operator:k-ops-2026,operator:k-ops-2025,trader:k-tv``. Several keys may hold
the same scope at once, so a key is rotated by adding the new one, moving the callers, then
removing the old one. A caller sends ``Authorization: Bearer <key>`` (``X-API-Key: <key>`` is
accepted too, for clients that cannot set ``Authorization``).

Every presented key is compared with every configured key by :func:`hmac.compare_digest`
(constant time, and no early exit), so neither the match nor its position leaks by timing.
A key grants its own scope; any valid key may read (``viewer``). The dev defaults
(:data:`DEV_API_KEYS`) make a fresh clone work and are refused under ``environment=production``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fastapi import Request

from at_core.errors import AtCoreError
from at_core.runtime.settings import DEV_API_KEYS as SETTINGS_DEV_API_KEYS
from at_core.service_kit.problems import ProblemError


class Scope(StrEnum):
    """What a key may do. Each key holds one scope; every valid key may also read."""

    OPERATOR = "operator"  # kill switch, resume, every other state-changing control route
    TRADER = "trader"  # manual orders, market-data ingest
    AGENT = "agent"  # the agents' MCP endpoint (propose_trade)
    VIEWER = "viewer"  # reads that expose positions, orders, fills or P&L


#: One dev key per scope, the default of every service's ``api_keys``: never valid in production.
DEV_KEYS: dict[Scope, str] = {
    Scope.OPERATOR: "dev-operator-key",
    Scope.TRADER: "dev-api-key",  # the gateway's historical dev key, so its old callers keep working
    Scope.AGENT: "dev-agent-key",
    Scope.VIEWER: "dev-viewer-key",
}
#: The same keys as the settings default (``AT_<SERVICE>_API_KEYS``); a test keeps the two equal.
DEV_API_KEYS = SETTINGS_DEV_API_KEYS
#: Key values a production key ring may not hold.
DEV_KEY_VALUES = frozenset(DEV_KEYS.values())
MIN_PRODUCTION_KEY_CHARS = 16


class ApiKeyConfigError(AtCoreError, ValueError):
    """The configured API keys cannot be used (bad format, unknown scope, a dev key in production)."""


def dev_headers(scope: Scope | str) -> dict[str, str]:
    """The ``Authorization`` header with the dev key of ``scope`` (tests, the demo, the e2e harness)."""
    return {"Authorization": f"Bearer {DEV_KEYS[Scope(scope)]}"}


def fingerprint(key: str) -> str:
    """A short, non-reversible name for a key, safe to log and to put in events."""
    return hashlib.sha256(key.encode()).hexdigest()[:8]


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller a valid key identifies: its scope and the key's fingerprint (never the key)."""

    scope: Scope
    key_id: str

    @property
    def name(self) -> str:
        """``api-key:<fingerprint>``, as it appears in logs and in the events a caller causes."""
        return f"api-key:{self.key_id}"


@dataclass(frozen=True, slots=True)
class _Entry:
    scope: Scope
    secret: bytes
    key_id: str


class KeyRing:
    """The valid keys of one service; :meth:`match` finds the caller's scope in constant time."""

    def __init__(self, entries: Iterable[tuple[Scope, str]]) -> None:
        self._entries = tuple(_Entry(scope, key.encode(), fingerprint(key)) for scope, key in entries)

    @classmethod
    def parse(cls, text: str, *, unscoped: Scope | None = None) -> KeyRing:
        """Read ``scope:key,scope:key``; an entry without a known scope gets ``unscoped`` if given.

        Raises:
            ApiKeyConfigError: an entry names no known scope (and ``unscoped`` is None), or a key is empty.
        """
        entries: list[tuple[Scope, str]] = []
        for raw in text.split(","):
            item = raw.strip()
            if not item:
                continue
            head, sep, tail = item.partition(":")
            if sep and head.strip() in Scope.__members__.values():
                scope, key = Scope(head.strip()), tail.strip()
            elif unscoped is not None:
                scope, key = unscoped, item
            else:
                raise ApiKeyConfigError(
                    f"API key entry #{len(entries) + 1} has no scope: write scope:key "
                    f"(scopes: {', '.join(s.value for s in Scope)})"
                )
            if not key:
                raise ApiKeyConfigError(f"API key entry #{len(entries) + 1} ({scope.value}) is empty")
            entries.append((scope, key))
        return cls(entries)

    def __len__(self) -> int:
        return len(self._entries)

    def scopes(self) -> set[Scope]:
        return {e.scope for e in self._entries}

    def check_production(self) -> None:
        """Refuse a key ring that holds a dev key or a short key (``environment=production``).

        Raises:
            ApiKeyConfigError: naming the scope and fingerprint of the offending key, never the key.
        """
        for e in self._entries:
            if e.secret.decode() in DEV_KEY_VALUES:
                raise ApiKeyConfigError(
                    f"production refuses the dev {e.scope.value} key ({e.key_id}): set real keys in API_KEYS"
                )
            if len(e.secret) < MIN_PRODUCTION_KEY_CHARS:
                raise ApiKeyConfigError(
                    f"production needs API keys of {MIN_PRODUCTION_KEY_CHARS}+ characters "
                    f"({e.scope.value} key {e.key_id} is shorter)"
                )

    def match(self, presented: str) -> Principal | None:
        """The principal whose key is ``presented``, or None; every entry is compared, always."""
        given = presented.encode()
        found: _Entry | None = None
        for e in self._entries:
            if hmac.compare_digest(given, e.secret) and found is None:
                found = e
        return Principal(found.scope, found.key_id) if found is not None else None


def presented_key(request: Request) -> str | None:
    """The key a request carries: ``Authorization: Bearer <key>``, else ``X-API-Key``."""
    auth = request.headers.get("authorization")
    if auth is not None:
        kind, _, token = auth.partition(" ")
        return token.strip() or None if kind.lower() == "bearer" else None
    return request.headers.get("x-api-key") or None


@dataclass(frozen=True, slots=True)
class AuthPolicy:
    """What the kit's auth dependencies need; the factory puts one on ``app.state.auth``."""

    keys: KeyRing
    #: Reads that expose positions or P&L need a key (on in production).
    reads_need_key: bool
    #: Called with a reason (``bad_api_key``, ``insufficient_scope``) on every refusal, e.g. to count it.
    on_refusal: Callable[[str], None] | None = None


def policy_of(request: Request) -> AuthPolicy:
    app = request.scope.get("app")
    policy = getattr(getattr(app, "state", None), "auth", None)
    if not isinstance(policy, AuthPolicy):  # an app not built by the kit: fail closed
        raise ProblemError(503, "unavailable", "authentication is not configured")
    return policy


def _refuse(policy: AuthPolicy, status: int, reason: str, detail: str) -> ProblemError:
    if policy.on_refusal is not None:
        policy.on_refusal(reason)
    error = "invalid_token" if status == 401 else "insufficient_scope"
    return ProblemError(status, reason, detail, headers={"WWW-Authenticate": f'Bearer error="{error}"'})


def authorize(request: Request, scope: Scope) -> Principal:
    """The caller, if its key holds ``scope`` (any valid key holds ``viewer``).

    For a route that must check something else first (a rate limit); otherwise use :func:`require`.

    Raises:
        ProblemError: 401 ``bad_api_key`` (no key, or not a valid one), 403 ``insufficient_scope``.
    """
    policy = policy_of(request)
    key = presented_key(request)
    principal = policy.keys.match(key) if key else None
    if principal is None:
        raise _refuse(policy, 401, "bad_api_key", "Authorization: Bearer <API key> missing or not valid")
    if scope is not Scope.VIEWER and principal.scope is not scope:
        raise _refuse(policy, 403, "insufficient_scope", f"this route needs a key with scope {scope.value}")
    return principal


def require(scope: Scope) -> Callable[[Request], Coroutine[Any, Any, Principal]]:
    """A FastAPI dependency: ``dependencies=[Depends(require(Scope.OPERATOR))]`` or a ``Principal`` parameter."""

    async def dependency(request: Request) -> Principal:
        return authorize(request, scope)

    dependency.__name__ = f"require_{scope.value}"
    return dependency


async def read_access(request: Request) -> Principal | None:
    """A FastAPI dependency for reads of positions, orders, fills or P&L: any valid key in production.

    Outside production an anonymous read is let through (None); a key sent anyway is still checked.
    """
    policy = policy_of(request)
    if not policy.reads_need_key and presented_key(request) is None:
        return None
    return authorize(request, Scope.VIEWER)
