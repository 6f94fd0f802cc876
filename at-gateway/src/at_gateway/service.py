"""The gateway's handlers, free of HTTP: admit a request, accept an alert, keep a refusal.

Each handler takes plain values and ports (:class:`Dedup`, :class:`Sink`, :class:`DeadLetters`)
and returns what happened, or raises :class:`~at_gateway.errors.Rejection` with a reason. The HTTP
edge (``api/``) reads the request and maps reasons to statuses; ``bootstrap`` wires real adapters;
unit tests wire fakes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from at_core.catalog import InstrumentCatalog
from at_core.clock import Clock
from at_core.events import Event, EventFactory, RejectedInputEvent, SignalEvent
from at_core.metrics import Metrics
from at_core.models.enums import IngestSource
from at_core.runtime.logging import get_logger
from at_gateway.domain.alerts import Alert, AlertRules, parse_body, validate_alert
from at_gateway.domain.bounds import QuantityLimits
from at_gateway.domain.instruments import InstrumentResolver
from at_gateway.domain.limits import RateLimiter, SlidingWindow
from at_gateway.domain.pinescript import pinescript_extras
from at_gateway.domain.redaction import Redactor
from at_gateway.domain.routing import Route, RouteTable
from at_gateway.errors import NotDurable, Reason, Rejection, Stored

log = get_logger("at_gateway.service")


class Dedup(Protocol):
    """Where a repeat's first event id is found and an accepted alert's recorded (the check itself
    is JetStream's, on the signals' message ids)."""

    async def seen(self, key: str, timeout_s: float) -> str | None: ...
    async def first_of(self, key: str, seq: int, timeout_s: float) -> str | None: ...
    async def record(self, key: str, event_id: str) -> None: ...
    def record_on_disk(self, key: str, event_id: str) -> str: ...
    async def release(self, key: str, timeout_s: float = ...) -> None: ...


class Sink(Protocol):
    async def publish(self, event: Event, budget_s: float | None = None, msg_id: str | None = None) -> Stored: ...
    async def publish_best_effort(self, event: Event, budget_s: float | None = None) -> None: ...


KeyOf = Callable[[str, str | None, bytes], str]
MsgIdOf = Callable[[str, str, str], str]  # (alert key, account id, strategy id) -> the signal's Nats-Msg-Id


@dataclass(frozen=True, slots=True)
class Limits:
    """The request-rate bounds, in requests (or refusals) per minute."""

    per_source: int
    per_route: int
    refusals_per_source: int
    dead_letters: int
    allowlist: frozenset[str] | None = None  # None: allowlist off


@dataclass(frozen=True, slots=True)
class AlertRequest:
    """An alert as the HTTP edge hands it over."""

    raw: bytes
    token: str | None  # the secret in the path, or None when it is the body's passphrase
    origin: IngestSource
    route_name: str  # the route template: never the path (it may hold the secret)
    deadline: float  # monotonic time by which the answer must be sent


@dataclass(frozen=True, slots=True)
class Accepted:
    signals: tuple[SignalEvent, ...]
    sink: str


@dataclass(frozen=True, slots=True)
class Duplicate:
    first_event_id: str | None  # None only if the replica that stored the first died before recording its id


@dataclass
class GatewayService:
    """The handlers and what they need (ports and pure rules), built once per app."""

    clock: Clock
    factory: EventFactory
    catalog: InstrumentCatalog
    routes: RouteTable
    metrics: Metrics
    dedup: Dedup
    sink: Sink
    key_of: KeyOf
    msg_id_of: MsgIdOf
    redactor: Redactor
    limits: Limits
    quantity: QuantityLimits
    stale_after_s: float
    max_json_depth: int = 32
    monotonic: Callable[[], float] = time.monotonic
    source_limiter: RateLimiter = field(init=False)
    route_limiter: RateLimiter = field(init=False)
    refusals: RateLimiter = field(init=False)
    dead_letter_budget: RateLimiter = field(init=False)
    instruments: InstrumentResolver = field(init=False)
    _children: dict[tuple[str, ...], Any] = field(default_factory=dict, init=False)
    #: Alerts being stored now, by key: the first event id each stored (None: nothing), for repeats.
    _in_flight: dict[str, asyncio.Future[str | None]] = field(default_factory=dict, init=False)
    recent_alerts: SlidingWindow = field(default_factory=lambda: SlidingWindow(180.0))
    _suppressed: int = 0

    def __post_init__(self) -> None:
        self.source_limiter = RateLimiter(self.limits.per_source)
        self.route_limiter = RateLimiter(self.limits.per_route)
        self.refusals = RateLimiter(self.limits.refusals_per_source)
        self.dead_letter_budget = RateLimiter(self.limits.dead_letters)
        self.instruments = InstrumentResolver(self.catalog)

    # --- admission: before anything is read or stored --------------------------------------

    def admit(self, source: str, route_name: str, *, allowlist: bool) -> None:
        """Per-source rate limit, then the allowlist. Every request counts here.

        Raises:
            Rejection: ``rate_limited`` or ``address_not_allowed``.
        """
        if not self.source_limiter.allow(f"{route_name}|{source}", self.clock.now_ns()):
            raise Rejection(Reason.RATE_LIMITED, f"more than {self.limits.per_source} requests/minute from {source}")
        if allowlist and self.limits.allowlist is not None and source not in self.limits.allowlist:
            self.metrics.counter("auth_failures_total").labels("address").inc()
            raise Rejection(Reason.ADDRESS_NOT_ALLOWED, f"{source} is not an allowed source")

    def count_route(self, route_name: str) -> None:
        """The route-wide limit: counted only for requests that passed the allowlist and authentication."""
        if not self.route_limiter.allow(route_name, self.clock.now_ns()):
            raise Rejection(Reason.RATE_LIMITED, f"more than {self.limits.per_route} requests/minute on {route_name}")

    def refused_too_often(self, source: str) -> bool:
        """The source used up its refusal budget: its refusals are answered 429 and not kept."""
        return self.refusals.count(source, self.clock.now_ns()) >= self.limits.refusals_per_source

    def authenticate(self, secret: str | None, source: str) -> Route:
        """The route for ``secret``.

        Raises:
            Rejection: ``missing_secret``/``bad_secret``, or ``rate_limited`` once the source has
                been refused too often (then nothing about it is kept).
        """
        route = self.routes.match(secret)
        if route is None:
            reason = Reason.MISSING_SECRET if not secret else Reason.BAD_SECRET
            self.metrics.counter("auth_failures_total").labels(reason).inc()
            if self.refused_too_often(source):
                raise Rejection(Reason.RATE_LIMITED, f"too many refused requests from {source}")
            raise Rejection(reason, "webhook secret missing or not valid")
        return route

    # --- alerts ------------------------------------------------------------------------------

    async def accept_alert(self, request: AlertRequest, source: str) -> Accepted | Duplicate:
        """Authenticate, validate, de-duplicate and make durable one alert, within its deadline.

        Raises:
            Rejection: with the reason the alert was refused.
        """
        route = self.authenticate(request.token, source) if request.token is not None else None
        fields = parse_body(request.raw, self.max_json_depth)
        if route is None:
            route = self.authenticate(str(fields.get("passphrase") or "") or None, source)
        self.count_route(request.route_name)
        rules = AlertRules(self.catalog, self.clock.now_ns(), self.stale_after_s, self.quantity, self.instruments)
        alert = validate_alert(fields, rules)
        extra = pinescript_extras(fields) if request.origin is IngestSource.PINESCRIPT else None
        label = route_label(route)
        self._labelled("alerts_last_3m", label).set(self.recent_alerts.add(label, self.clock.now_ns()))
        signals = self.build_signals(alert, route, request.origin, request.raw, extra)
        key = self.key_of(f"{request.origin}:{label}", alert.alert_id, request.raw)
        first = await self.dedup.seen(key, self._left(request.deadline, reserve=0.2))
        if first is None:
            first = await self._stored_by_first_attempt(key, self._left(request.deadline, reserve=0.2))
        if first is not None:
            self.metrics.counter("duplicates_total").labels(request.route_name).inc()
            return Duplicate(first)
        # No await since the check: this is the first attempt, and a repeat arriving while it stores
        # waits for what it stored (answered "duplicate" only once the first is durable).
        attempt = None if key in self._in_flight else asyncio.get_running_loop().create_future()
        if attempt is not None:
            self._in_flight[key] = attempt
        outcome: Accepted | Duplicate | None = None
        try:
            outcome = await self._store_alert(key, signals, route, request)
            return outcome
        finally:
            if attempt is not None:
                del self._in_flight[key]
                attempt.set_result(outcome.signals[0].event_id if isinstance(outcome, Accepted) else None)

    async def _stored_by_first_attempt(self, key: str, timeout_s: float) -> str | None:
        """The first event id an attempt at ``key`` still in flight stored; None if there is none, it
        stored nothing (it failed: this repeat stores the alert), or it is not done within ``timeout_s``
        (then this repeat publishes too: the signals' message ids keep one copy in JetStream)."""
        attempt = self._in_flight.get(key)
        if attempt is None:
            return None
        try:
            return await asyncio.wait_for(asyncio.shield(attempt), timeout_s)
        except TimeoutError:
            return None

    async def _store_alert(
        self, key: str, signals: list[SignalEvent], route: Route, request: AlertRequest
    ) -> Accepted | Duplicate:
        """Publish an alert's signals and record its key; a failure releases the key, so a retry is stored."""
        msg_ids = [self.msg_id_of(key, t.account_id, t.strategy_id) for t in route.targets]
        try:
            sinks = await self.store_signals(signals, msg_ids, request.route_name, request.deadline)
        except Exception:
            await self.dedup.release(key, self._left(request.deadline))
            raise
        stored = [s for s, how in zip(signals, sinks, strict=True) if how.duplicate_of is None]
        if not stored:  # JetStream held every signal's id already: a repeat (of this or another replica's)
            self.metrics.counter("duplicates_total").labels(request.route_name).inc()
            seq = sinks[0].duplicate_of or 0
            return Duplicate(await self.dedup.first_of(key, seq, self._left(request.deadline, reserve=0.05)))
        # A repeat of an alert whose first attempt stored only some signals stores the rest: its first
        # stored signal's id is the one a later repeat is answered with.
        outbox = any(how.sink == "outbox" for how in sinks)
        if outbox:
            self.dedup.record_on_disk(key, stored[0].event_id)
        else:
            await self.dedup.record(key, stored[0].event_id)
        for s in stored:
            self._labelled("signals_accepted_total", s.account_id, s.strategy_id).inc()
        return Accepted(tuple(stored), "outbox" if outbox else "jetstream")

    def build_signals(
        self, alert: Alert, route: Route, origin: IngestSource, raw: bytes, extra: dict[str, Any] | None = None
    ) -> list[SignalEvent]:
        """One signal per routed target, each its own root event (own correlation id).

        Raises:
            Rejection: ``invalid`` when a target's multiplied quantity is above the instrument's maximum.
        """
        body = self.redactor.body(raw)
        text = self._redacted_text
        out = []
        for target in route.targets:
            qty = alert.quantity * target.size_multiplier if alert.quantity is not None else None
            pos = alert.position_size * target.size_multiplier if alert.position_size is not None else None
            bound = alert.max_quantity if alert.max_quantity is not None else self.quantity.default_max
            if qty is not None and (e := self.quantity.error(qty, bound, alert.instrument_id, ["quantity"])):
                raise Rejection(Reason.INVALID, f"quantity for {target.account_id} out of bounds", [e])
            out.append(
                self.factory.make(
                    SignalEvent,
                    origin=origin,
                    automated=True,  # a webhook alert is a machine's: TradingView or a script fired it
                    account_id=target.account_id,
                    strategy_id=text(alert.strategy_id) or target.strategy_id,
                    instrument_id=alert.instrument_id,
                    asset_class=alert.asset_class,
                    ticker=self.redactor.text(alert.ticker),
                    action=alert.action,
                    quantity=qty,
                    order_type=alert.order_type,
                    limit_price=alert.limit_price,
                    stop_price=alert.stop_price,
                    price=alert.price,
                    position_size=pos,
                    market_position=alert.market_position,
                    prev_market_position=alert.prev_market_position,
                    size_multiplier=target.size_multiplier,
                    alert_id=text(alert.alert_id),
                    interval=text(alert.interval),
                    comment=text(alert.comment),
                    indicators={self.redactor.text(k): v for k, v in alert.indicators.items()},
                    raw_body=body,
                    bracket=alert.bracket,
                    **(extra or {}),
                )
            )
        return out

    # --- durability and refusals -------------------------------------------------------------

    async def make_durable(self, events: Sequence[Event], route_name: str, deadline: float) -> str:
        """Publish every event durably within the deadline (JetStream, else the outbox).

        Raises:
            Rejection: ``not_durable`` only if an event can be stored nowhere.
        """
        started = self.monotonic()
        sink = "jetstream"
        for event in events:
            try:
                if (await self.sink.publish(event, self._left(deadline, reserve=0.1))).sink == "outbox":
                    sink = "outbox"
            except NotDurable as exc:
                raise Rejection(Reason.NOT_DURABLE, "the event could not be stored") from exc
        self.metrics.histogram("receive_to_durable_seconds").labels(route_name, sink).observe(
            self.monotonic() - started
        )
        return sink

    async def store_signals(
        self, signals: Sequence[SignalEvent], msg_ids: Sequence[str], route_name: str, deadline: float
    ) -> list[Stored]:
        """Publish an alert's signals, each under its own message id: one JetStream round trip each.

        Returns:
            Per signal, where it went (``duplicate_of`` set: JetStream already held that id).

        Raises:
            Rejection: ``not_durable`` if a signal can be stored nowhere.
        """
        started = self.monotonic()
        sinks = []
        for signal, msg_id in zip(signals, msg_ids, strict=True):
            try:
                sinks.append(await self.sink.publish(signal, self._left(deadline, reserve=0.1), msg_id))
            except NotDurable as exc:
                raise Rejection(Reason.NOT_DURABLE, "the event could not be stored") from exc
        sink = "outbox" if any(how.sink == "outbox" for how in sinks) else "jetstream"
        self._labelled("receive_to_durable_seconds", route_name, sink).observe(self.monotonic() - started)
        return sinks

    async def keep_refusal(
        self,
        rejection: Rejection,
        status: int,
        route_name: str,
        source: str,
        raw: bytes,
        deadline: float,
        metric_route: str | None = None,
    ) -> bool:
        """Count a refusal and keep it on the dead-letter stream, within the refusal budgets.

        ``metric_route`` is the bounded label (the template, or ``unmatched``); ``route_name``, kept in
        the dead letter, may be an unknown path (secrets redacted).

        Returns:
            True if it was published (best effort); False if a budget (per source, or all
            together) was used up: then it is only counted, never logged line by line.
        """
        now_ns = self.clock.now_ns()
        self.metrics.counter("rejected_total").labels(metric_route or route_name, rejection.reason).inc()
        if rejection.reason == Reason.STALE:
            self.metrics.counter("stale_alerts_total").inc()
        elif rejection.reason == Reason.PLACEHOLDER:
            self.metrics.counter("placeholder_rejects_total").inc()
        if not (self.refusals.allow(source, now_ns) and self.dead_letter_budget.allow("*", now_ns)):
            self._suppressed += 1
            self.metrics.counter("dead_letters_suppressed_total").labels(rejection.reason).inc()
            if self._suppressed in (1, 10, 100) or self._suppressed % 1000 == 0:
                log.warning("dead_letters_suppressed", suppressed=self._suppressed, reason=rejection.reason)
            return False
        detail = self.redactor.text(rejection.detail)[:2000]
        errors = [  # the fields at fault (locations and messages only: no input echoed)
            {
                "loc": [self.redactor.text(str(part))[:100] for part in e.get("loc", ())],
                "msg": self.redactor.text(str(e.get("msg", "")))[:300],
            }
            for e in rejection.errors[:20]
        ]
        log.warning(
            "input_rejected", route=route_name, reason=rejection.reason, status=status, detail=detail, errors=errors
        )
        event = self.factory.make(
            RejectedInputEvent,
            route=route_name,
            status_code=status,
            reason=rejection.reason,
            detail=detail,
            raw_body=self.redactor.body(raw),
            remote_addr=source,
        )
        await self.sink.publish_best_effort(event, self._left(deadline))
        return True

    def _labelled(self, metric: str, *labels: str) -> Any:
        """A metric's child for ``labels``, looked up once (prometheus_client's ``labels`` validates
        and takes a lock on every call); bounded, like the label values themselves."""
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            if len(self._children) >= 4096:
                self._children.clear()
            child = self._children[key] = self.metrics[metric].labels(*labels)
        return child

    def _redacted_text(self, value: str | None) -> str | None:
        """A text field copied from the alert into an event: secrets masked (the body is not alone)."""
        return self.redactor.text(value) if value is not None else None

    def _left(self, deadline: float, reserve: float = 0.0) -> float:
        return max(0.0, deadline - self.monotonic() - reserve)


def route_label(route: Route) -> str:
    first = route.targets[0]
    return f"{first.account_id}/{first.strategy_id}"
