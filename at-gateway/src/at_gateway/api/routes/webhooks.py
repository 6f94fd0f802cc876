"""TradingView and PineScript webhooks."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from at_core.models.enums import IngestSource
from at_gateway.adapters.dedup import dedup_key
from at_gateway.api.deps import gateway_of
from at_gateway.api.pipeline import authenticate, build_signals, check_limits, make_durable, read_body, route_label
from at_gateway.domain.alerts import parse_body, validate_alert
from at_gateway.domain.pinescript import pinescript_extras

router = APIRouter(tags=["webhooks"])


async def _handle(request: Request, token: str | None, origin: IngestSource) -> JSONResponse:
    started = time.perf_counter()
    gw = gateway_of(request)
    route_name = request.scope["route"].path  # the template: a path token (a secret) never becomes a label
    check_limits(gw, request, route_name, allowlist=True)
    if token is not None:
        authenticate(gw, token)
    raw = await read_body(request, gw.settings.max_body_bytes)
    request.state.raw_body = raw
    fields = parse_body(raw)
    route = authenticate(gw, token if token is not None else str(fields.get("passphrase") or "") or None)
    alert = validate_alert(fields, gw.catalog, gw.clock.now_ns(), gw.settings.stale_after_s)
    extra = pinescript_extras(fields) if origin is IngestSource.PINESCRIPT else None
    label = route_label(route)
    gw.metrics.gauge("alerts_last_3m").labels(label).set(gw.recent_alerts.add(label, gw.clock.now_ns()))
    signals = build_signals(gw, alert, route, origin, raw, extra)
    key = dedup_key(f"{origin}:{label}", alert.alert_id, raw)
    first = await gw.dedup.claim(key, signals[0].event_id)
    if first is not None:
        gw.metrics.counter("duplicates_total").labels(route_name).inc()
        return JSONResponse({"status": "duplicate", "event_id": first}, status_code=200)
    try:
        await make_durable(gw, list(signals), route_name, started)
    except Exception:
        await gw.dedup.release(key)
        raise
    for s in signals:
        gw.metrics.counter("signals_accepted_total").labels(s.account_id, s.strategy_id).inc()
    body = {"status": "accepted", "event_id": signals[0].event_id, "correlation_id": signals[0].correlation_id}
    if len(signals) > 1:
        body["fanout"] = [{"account_id": s.account_id, "event_id": s.event_id} for s in signals]
    return JSONResponse(body, status_code=202)


@router.post("/webhooks/tradingview", status_code=202)
async def tradingview(request: Request) -> JSONResponse:
    """A TradingView alert; the secret is the body's ``passphrase``."""
    return await _handle(request, None, IngestSource.TRADINGVIEW)


@router.post("/webhooks/tradingview/{token}", status_code=202)
async def tradingview_token(request: Request, token: str) -> JSONResponse:
    """A TradingView alert; the secret is the last path segment."""
    return await _handle(request, token, IngestSource.TRADINGVIEW)


@router.post("/webhooks/pinescript", status_code=202)
async def pinescript(request: Request) -> JSONResponse:
    """Structured PineScript JSON (indicators, bar OHLCV, strategy state); secret in ``passphrase``."""
    return await _handle(request, None, IngestSource.PINESCRIPT)


@router.post("/webhooks/pinescript/{token}", status_code=202)
async def pinescript_token(request: Request, token: str) -> JSONResponse:
    """Structured PineScript JSON; the secret is the last path segment."""
    return await _handle(request, token, IngestSource.PINESCRIPT)
