"""TradingView and PineScript webhooks: read the request, hand it to the service, answer.

The routes are declared here (their docs, their paths); a POST to one is served by
:func:`handle` straight from the front door (``api/front_door.py``), past the router and
dependency solving: nothing here needs either.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from at_core.models.enums import IngestSource
from at_gateway.api.deps import gateway_of
from at_gateway.api.openapi_bodies import alert_body
from at_gateway.api.pipeline import deadline_of, read_body, source_address
from at_gateway.service import AlertRequest, Duplicate

router = APIRouter(tags=["webhooks"])


async def handle(request: Request, token: str | None, origin: IngestSource) -> JSONResponse:
    """Admit, read, accept and answer one alert (refusals raise :class:`~at_gateway.errors.Rejection`)."""
    gw = gateway_of(request)
    route_name = request.scope["route"].path  # the template: a path token (a secret) never becomes a label
    source = source_address(gw, request)
    gw.service.admit(source, route_name, allowlist=True)
    raw = await read_body(gw, request, gw.settings.max_body_bytes)
    outcome = await gw.service.accept_alert(
        AlertRequest(raw, token, origin, route_name, deadline_of(gw, request)), source
    )
    if isinstance(outcome, Duplicate):
        return JSONResponse({"status": "duplicate", "event_id": outcome.first_event_id}, status_code=200)
    first = outcome.signals[0]
    body: dict = {"status": "accepted", "event_id": first.event_id, "correlation_id": first.correlation_id}
    if len(outcome.signals) > 1:
        body["fanout"] = [{"account_id": s.account_id, "event_id": s.event_id} for s in outcome.signals]
    return JSONResponse(body, status_code=202)


@router.post("/webhooks/tradingview", status_code=202, openapi_extra=alert_body(with_passphrase=True))
async def tradingview(request: Request) -> JSONResponse:
    """A TradingView alert; the secret is the body's ``passphrase``."""
    return await handle(request, None, IngestSource.TRADINGVIEW)


@router.post("/webhooks/tradingview/{token}", status_code=202, openapi_extra=alert_body(with_passphrase=False))
async def tradingview_token(request: Request, token: str) -> JSONResponse:
    """A TradingView alert; the secret is the last path segment."""
    return await handle(request, token, IngestSource.TRADINGVIEW)


@router.post("/webhooks/pinescript", status_code=202, openapi_extra=alert_body(with_passphrase=True))
async def pinescript(request: Request) -> JSONResponse:
    """Structured PineScript JSON (indicators, bar OHLCV, strategy state); secret in ``passphrase``."""
    return await handle(request, None, IngestSource.PINESCRIPT)


@router.post("/webhooks/pinescript/{token}", status_code=202, openapi_extra=alert_body(with_passphrase=False))
async def pinescript_token(request: Request, token: str) -> JSONResponse:
    """Structured PineScript JSON; the secret is the last path segment."""
    return await handle(request, token, IngestSource.PINESCRIPT)


#: Each webhook endpoint's origin: the front door serves their POSTs with :func:`handle`.
ORIGIN_OF = {
    tradingview: IngestSource.TRADINGVIEW,
    tradingview_token: IngestSource.TRADINGVIEW,
    pinescript: IngestSource.PINESCRIPT,
    pinescript_token: IngestSource.PINESCRIPT,
}
