"""Tradovate REST, over httpx: an access token, its renewal, and Tradovate's rate-limit answers.

Auth: ``POST /auth/accesstokenrequest {name, password, appId, appVersion, cid, sec, deviceId}``
answers ``{accessToken, expirationTime, userId, ...}`` (a token of 80 to 90 minutes), renewed
with ``GET /auth/renewaccesstoken`` ``renew_before_s`` before ``expirationTime``; a 401 logs in
again and repeats the call once (a refused request placed nothing).

Rate limits: a :class:`RequestBudget` below the published limits; a "time penalty" arrives as
an HTTP 200 whose body holds ``p-ticket`` and ``p-time`` (seconds): the request was not
executed, so it is sent again with the ticket after ``p-time`` (``p-captcha`` means a person
must log in on the web: refused here). An HTTP 429 means a long wait: the budget pauses for
``Retry-After`` (default ``long_backoff_s``) and the call fails as :class:`VenueUnavailableError`
unless that pause is short.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from at_core.clock import Clock, WallClock
from at_core.runtime.logging import get_logger
from at_exec_sim.adapters.health import NO_HEALTH, BrokerHealth
from at_exec_sim.adapters.ratelimit import RequestBudget
from at_exec_sim.errors import VenueUnavailableError

log = get_logger("at_exec_sim.tradovate")

DEMO_URL = "https://demo.tradovateapi.com/v1"
LIVE_URL = "https://live.tradovateapi.com/v1"
DEMO_WS = "wss://demo.tradovateapi.com/v1/websocket"
LIVE_WS = "wss://live.tradovateapi.com/v1/websocket"


class TradovateAuthError(VenueUnavailableError):
    """Tradovate refused the credentials, or wants a captcha solved by a person."""


class TradovateClient:
    """One Tradovate login: its token, its budget, its requests."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        credentials: dict[str, Any],
        budget: RequestBudget,
        venue: str = "TRADOVATE",
        renew_before_s: float = 15 * 60.0,
        max_pause_s: float = 30.0,
        long_backoff_s: float = 3600.0,
        clock: Clock | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.http = http
        self.venue = venue
        self.budget = budget
        self._credentials = credentials
        self.renew_before_s = renew_before_s
        self.max_pause_s = max_pause_s
        self.long_backoff_s = long_backoff_s
        self.clock = clock or WallClock()
        self._now = monotonic
        self._token: str | None = None
        self._expires_at = 0.0  # monotonic
        self.user_id: int | None = None
        self._auth_lock = asyncio.Lock()
        self.logins = 0
        self.renewals = 0
        self.penalties = 0
        self.rate_limited = 0
        self.health: BrokerHealth = NO_HEALTH  # penalties, 429s, renewals, failures: the broker-health metrics

    @property
    def token(self) -> str | None:
        return self._token

    def _took(self, body: dict[str, Any]) -> None:
        self._token = str(body["accessToken"])
        self.user_id = int(body["userId"]) if body.get("userId") is not None else self.user_id
        expires = datetime.fromisoformat(str(body["expirationTime"]).replace("Z", "+00:00")).timestamp()
        self._expires_at = self._now() + (expires - self.clock.now_ns() / 1e9)

    async def login(self) -> None:
        """A new access token.

        Raises:
            TradovateAuthError: refused credentials, or a captcha.
            VenueUnavailableError: Tradovate could not be reached.
        """
        try:
            body = await self._send("POST", "/auth/accesstokenrequest", dict(self._credentials), None)
        except VenueUnavailableError:  # a captcha (TradovateAuthError) too
            self.health.token_failed()
            raise
        if body.get("errorText") or not body.get("accessToken"):
            self.health.token_failed()
            raise TradovateAuthError(self.venue, f"login refused: {str(body.get('errorText', ''))[:200]}")
        self._took(body)
        self.logins += 1
        log.info("tradovate_logged_in", venue=self.venue, logins=self.logins)

    async def _renew(self) -> None:
        try:
            body = await self._send("GET", "/auth/renewaccesstoken", None, self._token)
        except _Unauthorized:
            body = {}
        if body.get("accessToken"):
            self._took(body)
            self.renewals += 1
            self.health.token_renewed()
            log.info("tradovate_token_renewed", venue=self.venue, renewals=self.renewals)
            return
        self.health.token_failed()
        log.warning("tradovate_token_renewal_refused", venue=self.venue)
        await self.login()

    async def _fresh_token(self, stale: str | None = None) -> str:
        async with self._auth_lock:
            if self._token is None or (stale is not None and stale == self._token) or self._now() >= self._expires_at:
                await self.login()
            elif self._now() >= self._expires_at - self.renew_before_s:
                await self._renew()
            assert self._token is not None
            return self._token

    async def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Send one request with a valid token; its JSON answer (a dict or a list).

        Raises:
            VenueUnavailableError: unreachable, a 5xx, a long penalty or 429, or a refused login.
        """
        token = await self._fresh_token()
        for attempt in range(2):
            try:
                return await self._send(method, path, body, token)
            except _Unauthorized:
                if attempt:
                    raise VenueUnavailableError(self.venue, f"{path}: 401 after a new login") from None
                log.warning("tradovate_token_refused", venue=self.venue, path=path)
                token = await self._fresh_token(stale=token)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(self, method: str, path: str, body: dict[str, Any] | None, token: str | None) -> Any:
        payload = dict(body) if body is not None else None
        for _ in range(4):  # penalties in a row: then give up for now
            await self.budget.acquire()
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            try:
                if method == "GET":
                    resp = await self.http.get(path, params=payload, headers=headers)
                else:
                    resp = await self.http.post(path, json=payload, headers=headers)
            except httpx.TransportError as exc:
                self.health.request_failed("transport")
                raise VenueUnavailableError(self.venue, f"{path}: {type(exc).__name__}") from exc
            if resp.status_code == 401:
                raise _Unauthorized
            if resp.status_code == 429:
                self.rate_limited += 1
                self.health.rate_limited("http_429")
                wait = _seconds(resp.headers.get("Retry-After"), self.long_backoff_s)
                self.budget.pause(wait)
                log.warning("tradovate_rate_limited", venue=self.venue, path=path, wait_s=wait)
                if wait > self.max_pause_s:
                    raise VenueUnavailableError(self.venue, f"{path}: HTTP 429, retry after {wait} s")
                continue
            if resp.status_code >= 500:
                self.health.request_failed("http_5xx")
                raise VenueUnavailableError(self.venue, f"{path}: HTTP {resp.status_code}")
            try:
                answer = resp.json()
            except ValueError:
                self.health.request_failed("bad_answer")
                raise VenueUnavailableError(self.venue, f"{path}: HTTP {resp.status_code}, not JSON") from None
            if isinstance(answer, dict) and answer.get("p-ticket"):
                self.penalties += 1
                self.health.rate_limited("penalty")
                if answer.get("p-captcha"):
                    raise TradovateAuthError(self.venue, "Tradovate asks for a captcha: log in once on the web")
                wait = _seconds(answer.get("p-time"), self.max_pause_s)
                log.warning("tradovate_penalty", venue=self.venue, path=path, wait_s=wait)
                self.budget.pause(wait)
                if wait > self.max_pause_s:
                    raise VenueUnavailableError(self.venue, f"{path}: time penalty of {wait} s")
                payload = (payload or {}) | {"p-ticket": answer["p-ticket"]}  # not executed: send it again
                continue
            if resp.status_code != 200:
                self.health.request_failed("bad_answer")
                raise VenueUnavailableError(self.venue, f"{path}: HTTP {resp.status_code}: {str(answer)[:200]}")
            return answer
        raise VenueUnavailableError(self.venue, f"{path}: still penalized after repeated tickets")


class _Unauthorized(Exception):
    pass


def _seconds(value: Any, default: float) -> float:
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return default
