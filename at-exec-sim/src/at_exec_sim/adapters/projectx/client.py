"""ProjectX Gateway REST, over httpx: every call a POST with a JSON body, a bearer token.

Auth: ``POST /api/Auth/loginKey {userName, apiKey}`` returns a token valid 24 h;
``POST /api/Auth/validate`` renews it (``newToken``). The token is renewed ``renew_before_s``
before it expires; a 401 (revoked, or expired early) logs in again and repeats the call once:
a 401 means the gateway refused the request, so repeating it cannot double an order.

Rate limits: every request takes a slot of a :class:`RequestBudget` kept below the published
limit; an HTTP 429 pauses the budget for its ``Retry-After`` (or ``default_backoff_s``) and the
call is repeated once the pause is over if the pause is short, else it fails as
:class:`VenueUnavailableError` (the router then holds the order unknown and asks later).

A transport error or a 5xx after the request may have left is ambiguous: VenueUnavailableError,
never a guess. Secrets are sent only in the login body; they never reach a log or an error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx

from at_core.runtime.logging import get_logger
from at_exec_sim.adapters.health import NO_HEALTH, BrokerHealth
from at_exec_sim.adapters.ratelimit import RequestBudget
from at_exec_sim.errors import VenueUnavailableError

log = get_logger("at_exec_sim.projectx")

TOKEN_TTL_S = 24 * 3600.0


class ProjectXAuthError(VenueUnavailableError):
    """The gateway refused the credentials (wrong user name or API key, or no API subscription)."""


class ProjectXClient:
    """One ProjectX Gateway login: its token, its request budget, its calls."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        user_name: str,
        api_key: str,
        budget: RequestBudget,
        venue: str = "TOPSTEPX",
        token_ttl_s: float = TOKEN_TTL_S,
        renew_before_s: float = 3600.0,
        max_pause_s: float = 30.0,
        default_backoff_s: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.http = http
        self.venue = venue
        self.budget = budget
        self._user_name = user_name
        self._api_key = api_key
        self.token_ttl_s = token_ttl_s
        self.renew_before_s = min(renew_before_s, token_ttl_s / 2)
        self.max_pause_s = max_pause_s
        self.default_backoff_s = default_backoff_s
        self._now = monotonic
        self._token: str | None = None
        self._token_at = 0.0
        self._auth_lock = asyncio.Lock()
        self.logins = 0
        self.renewals = 0
        self.rate_limited = 0
        self.health: BrokerHealth = NO_HEALTH  # rate limits, renewals, failures: the broker-health metrics

    @property
    def token(self) -> str | None:
        """The current session token (for the real-time hub); None before the first login."""
        return self._token

    async def login(self) -> None:
        """A new session token from the user name and API key.

        Raises:
            ProjectXAuthError: the gateway refused them.
            VenueUnavailableError: the gateway could not be reached.
        """
        try:
            body = await self._raw("/api/Auth/loginKey", {"userName": self._user_name, "apiKey": self._api_key}, None)
        except VenueUnavailableError:
            self.health.token_failed()
            raise
        if not body.get("success") or not body.get("token"):
            self.health.token_failed()
            raise ProjectXAuthError(self.venue, f"login refused (errorCode {body.get('errorCode')}): {_msg(body)}")
        self._token, self._token_at = str(body["token"]), self._now()
        self.logins += 1
        log.info("projectx_logged_in", venue=self.venue, logins=self.logins)

    async def _renew(self) -> None:
        """``/api/Auth/validate`` for a fresh token; a refusal falls back to a new login."""
        try:
            body = await self._raw("/api/Auth/validate", {}, self._token)
        except _Unauthorized:
            body = {}
        if body.get("success") and body.get("newToken"):
            self._token, self._token_at = str(body["newToken"]), self._now()
            self.renewals += 1
            self.health.token_renewed()
            log.info("projectx_token_renewed", venue=self.venue, renewals=self.renewals)
            return
        self.health.token_failed()
        log.warning("projectx_token_renewal_refused", venue=self.venue, error=_msg(body))
        await self.login()

    async def _fresh_token(self, stale: str | None = None) -> str:
        async with self._auth_lock:  # one renewal for every request waiting on it
            if self._token is None or (stale is not None and self._token == stale):
                await self.login()
            elif self._now() - self._token_at >= self.token_ttl_s - self.renew_before_s:
                await self._renew()
            assert self._token is not None
            return self._token

    async def call(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST ``payload`` to ``path`` with a valid token; the gateway's JSON answer (its
        ``success``/``errorCode`` are the caller's to read).

        Raises:
            VenueUnavailableError: unreachable, a 5xx, a long 429, or a refused login.
        """
        token = await self._fresh_token()
        for attempt in range(3):
            try:
                return await self._raw(path, payload, token)
            except _Unauthorized:
                if attempt:
                    raise VenueUnavailableError(self.venue, f"{path}: 401 after a new login") from None
                log.warning("projectx_token_refused", venue=self.venue, path=path)
                token = await self._fresh_token(stale=token)
            except _RateLimited as limited:
                self.rate_limited += 1
                self.health.rate_limited("http_429")
                self.budget.pause(limited.wait_s)
                log.warning("projectx_rate_limited", venue=self.venue, path=path, wait_s=limited.wait_s)
                if limited.wait_s > self.max_pause_s or attempt == 2:
                    raise VenueUnavailableError(
                        self.venue, f"{path}: HTTP 429, retry after {limited.wait_s} s"
                    ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _raw(self, path: str, payload: dict[str, Any], token: str | None) -> dict[str, Any]:
        await self.budget.acquire()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            resp = await self.http.post(path, json=payload, headers=headers)
        except httpx.TransportError as exc:
            self.health.request_failed("transport")
            raise VenueUnavailableError(self.venue, f"{path}: {type(exc).__name__}") from exc
        if resp.status_code == 401:
            raise _Unauthorized
        if resp.status_code == 429:
            raise _RateLimited(_retry_after(resp, self.default_backoff_s))
        if resp.status_code >= 500:
            self.health.request_failed("http_5xx")
            raise VenueUnavailableError(self.venue, f"{path}: HTTP {resp.status_code}")
        try:
            body = resp.json()
        except ValueError:
            self.health.request_failed("bad_answer")
            raise VenueUnavailableError(self.venue, f"{path}: HTTP {resp.status_code}, not JSON") from None
        if resp.status_code != 200 or not isinstance(body, dict):
            self.health.request_failed("bad_answer")
            raise VenueUnavailableError(self.venue, f"{path}: HTTP {resp.status_code}: {str(body)[:200]}")
        return body


class _Unauthorized(Exception):
    pass


class _RateLimited(Exception):
    def __init__(self, wait_s: float) -> None:
        self.wait_s = wait_s


def _retry_after(resp: httpx.Response, default: float) -> float:
    try:
        return max(0.0, float(resp.headers.get("Retry-After", default)))
    except ValueError:
        return default


def _msg(body: dict[str, Any]) -> str:
    return str(body.get("errorMessage") or "")[:300]
