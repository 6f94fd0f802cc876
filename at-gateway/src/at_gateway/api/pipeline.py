"""Request handling shared by the ingest routes: limits, body, auth, dedup, durable publish."""

from __future__ import annotations

import time
from typing import Any

from fastapi import Request

from at_core.events import Event, RejectedInputEvent, SignalEvent
from at_core.models.enums import IngestSource
from at_core.runtime.logging import get_logger
from at_gateway.bootstrap import Gateway
from at_gateway.domain.alerts import Alert, redact
from at_gateway.domain.errors import NotDurable, Rejection
from at_gateway.domain.limits import client_address
from at_gateway.domain.routing import Route

log = get_logger("at_gateway.pipeline")
JSON_TYPES = ("application/json", "text/plain", "")


def source_address(gw: Gateway, request: Request) -> str:
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.get("x-forwarded-for"), gw.settings.proxies)


def check_limits(gw: Gateway, request: Request, route_name: str, *, allowlist: bool) -> str:
    """Rate limit per route and source, then the source allowlist. Returns the client address."""
    addr = source_address(gw, request)
    now_ns = gw.clock.now_ns()
    if not gw.limiter.allow(f"{route_name}|{addr}", now_ns):
        raise Rejection(
            429, "rate_limited", f"more than {gw.settings.rate_limit_per_minute} requests/minute from {addr}"
        )
    if not gw.route_limiter.allow(route_name, now_ns):
        raise Rejection(
            429, "rate_limited", f"more than {gw.settings.route_rate_limit_per_minute} requests/minute on {route_name}"
        )
    if allowlist and gw.settings.allowlist_enabled and addr not in gw.settings.allowed_ips:
        gw.metrics.counter("auth_failures_total").labels("address").inc()
        raise Rejection(403, "address_not_allowed", f"{addr} is not an allowed source")
    return addr


async def read_body(request: Request, cap: int, allowed_types: tuple[str, ...] = JSON_TYPES) -> bytes:
    """The body, refused with 413 as soon as it passes ``cap`` bytes (before reading the rest)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in allowed_types:
        raise Rejection(
            415, "unsupported_type", f"content-type {ctype!r} not accepted ({', '.join(t for t in allowed_types if t)})"
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise Rejection(413, "too_large", f"body of {declared} bytes exceeds {cap}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise Rejection(413, "too_large", f"body exceeds {cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def authenticate(gw: Gateway, secret: str | None) -> Route:
    route = gw.routes.match(secret)
    if route is None:
        reason = "missing_secret" if not secret else "bad_secret"
        gw.metrics.counter("auth_failures_total").labels(reason).inc()
        raise Rejection(401, reason, "webhook secret missing or not valid")
    return route


def route_label(route: Route) -> str:
    first = route.targets[0]
    return f"{first.account_id}/{first.strategy_id}"


def build_signals(
    gw: Gateway, alert: Alert, route: Route, origin: IngestSource, raw: bytes, extra: dict[str, Any] | None = None
) -> list[SignalEvent]:
    """One signal per routed target, each its own root event (own correlation id)."""
    body = redact(raw, gw.routes.secrets)
    out = []
    for target in route.targets:
        qty = alert.quantity * target.size_multiplier if alert.quantity is not None else None
        pos = alert.position_size * target.size_multiplier if alert.position_size is not None else None
        out.append(
            gw.factory.make(
                SignalEvent,
                origin=origin,
                account_id=target.account_id,
                strategy_id=alert.strategy_id or target.strategy_id,
                instrument_id=alert.instrument_id,
                asset_class=alert.asset_class,
                ticker=alert.ticker,
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
                alert_id=alert.alert_id,
                interval=alert.interval,
                comment=alert.comment,
                indicators=alert.indicators,
                raw_body=body,
                **(extra or {}),
            )
        )
    return out


async def make_durable(gw: Gateway, events: list[Event], route_name: str, started: float) -> str:
    """Publish every event durably; 503 only if one can be stored nowhere."""
    sink = "jetstream"
    for event in events:
        try:
            if await gw.publisher.publish(event) == "outbox":
                sink = "outbox"
        except NotDurable as exc:
            raise Rejection(503, "not_durable", f"event could not be stored: {exc}") from exc
    gw.metrics.histogram("receive_to_durable_seconds").labels(route_name, sink).observe(time.perf_counter() - started)
    return sink


async def dead_letter(gw: Gateway, request: Request, rejection: Rejection, raw: bytes) -> None:
    """Publish the refused input to the dead-letter subject (best effort) and count it."""
    route = request.scope.get("route")
    # An unmatched path may hold a mistyped secret: redact it like the body.
    route_name = route.path if route is not None else redact(request.url.path.encode(), gw.routes.secrets)[:200]
    gw.metrics.counter("rejected_total").labels(route_name, rejection.reason).inc()
    if rejection.reason == "stale":
        gw.metrics.counter("stale_alerts_total").inc()
    elif rejection.reason == "placeholder":
        gw.metrics.counter("placeholder_rejects_total").inc()
    log.warning(
        "input_rejected", route=route_name, reason=rejection.reason, status=rejection.status, detail=rejection.detail
    )
    event = gw.factory.make(
        RejectedInputEvent,
        route=route_name,
        status_code=rejection.status,
        reason=rejection.reason,
        detail=rejection.detail[:2000],
        raw_body=redact(raw, gw.routes.secrets),
        remote_addr=source_address(gw, request),
    )
    await gw.publisher.publish_best_effort(event)
