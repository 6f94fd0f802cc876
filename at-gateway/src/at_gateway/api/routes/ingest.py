"""Other ingest paths: market data batches and chart screenshots."""

from __future__ import annotations

import asyncio
import hashlib
import time
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from at_core import subjects
from at_core.errors import SymbolError, UnknownInstrumentError
from at_core.events import BarData, ChartSnapshotEvent, MarketDataEvent, QuoteData, TradeData
from at_core.models.enums import OrderSide
from at_core.service_kit import Scope, authorize
from at_gateway.api.deps import GatewayDep
from at_gateway.api.openapi_bodies import MARKET_DATA_EXAMPLES, model_body
from at_gateway.api.pipeline import deadline_of, read_body, source_address
from at_gateway.bootstrap import Gateway
from at_gateway.domain.instruments import utc_datetime
from at_gateway.domain.json_shape import JsonShapeError, bounded_decimal, check_json_shape
from at_gateway.errors import Reason, Rejection

router = APIRouter(tags=["ingest"])
PNG_MAGIC, JPEG_MAGIC = b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"


def _in_range(value: Decimal) -> Decimal:
    if not bounded_decimal(value):
        raise ValueError("must be finite and between 1e-30 and 1e30")
    return value


#: A decimal whose magnitude is bounded (a JSON string is not shape-checked like a JSON number).
BoundedDecimal = Annotated[Decimal, AfterValidator(_in_range)]


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    symbol: str = Field(
        min_length=1, max_length=64, description="TradingView ticker or canonical id, e.g. 'CME_MINI:MES1!'"
    )
    ts: int | None = Field(default=None, ge=0, lt=2**63, description="Event time, UTC ns (default: received)")


class BarItem(_Item):
    kind: Literal["bar"]
    interval: str = Field(default="1", min_length=1, max_length=16)
    open: BoundedDecimal
    high: BoundedDecimal
    low: BoundedDecimal
    close: BoundedDecimal
    volume: BoundedDecimal = Decimal(0)


class QuoteItem(_Item):
    kind: Literal["quote"]
    bid: BoundedDecimal
    ask: BoundedDecimal
    bid_size: BoundedDecimal = Decimal(0)
    ask_size: BoundedDecimal = Decimal(0)


class TradeItem(_Item):
    kind: Literal["trade"]
    price: BoundedDecimal
    size: BoundedDecimal
    aggressor: OrderSide | None = None


class MarketDataBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[Annotated[BarItem | QuoteItem | TradeItem, Field(discriminator="kind")]] = Field(
        min_length=1, max_length=1000
    )


_BATCH = TypeAdapter(MarketDataBatch)


def require_api_key(gw: Gateway, request: Request) -> str:
    """The caller's name (``api-key:<fingerprint>``) if it holds a ``trader`` key (at-core's service kit).

    Called after the rate limits, so unauthenticated floods are limited too. Raises ProblemError 401/403.
    """
    return authorize(request, Scope.TRADER).name


def _errors(exc: ValidationError) -> list[dict]:
    return [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]


def check_shape(gw: Gateway, raw: bytes) -> None:
    """JSON depth and number sizes bounded on the bytes, before Pydantic parses them."""
    try:
        check_json_shape(raw, max_depth=gw.settings.max_json_depth)
    except JsonShapeError as exc:
        raise Rejection(Reason(exc.kind), exc.detail) from exc


@router.post(
    "/ingest/market-data",
    status_code=202,
    openapi_extra=model_body(
        MarketDataBatch, MARKET_DATA_EXAMPLES, "Quotes, trades or bars (a trader key when market_data_api_key_required)"
    ),
)
async def market_data(gw: GatewayDep, request: Request) -> JSONResponse:
    """A batch of bars, quotes or trades (``{"items": [...]}``), published as MarketDataEvents."""
    gw.service.admit(source_address(gw, request), "/ingest/market-data", allowlist=False)
    if gw.settings.market_data_api_key_required:
        require_api_key(gw, request)
    raw = await read_body(gw, request, gw.settings.max_body_bytes * 16)
    check_shape(gw, raw)
    try:
        batch = _BATCH.validate_json(raw)
    except ValidationError as exc:
        raise Rejection(Reason.INVALID, "invalid market data batch", _errors(exc)) from exc
    events = []
    for i, item in enumerate(batch.items):
        try:
            inst = gw.catalog.resolve(item.symbol, now=utc_datetime(gw.clock.now_ns()))
        except (SymbolError, UnknownInstrumentError) as exc:
            raise Rejection(
                Reason.INVALID, "unknown symbol", [{"loc": ["items", i, "symbol"], "msg": str(exc)[:200]}]
            ) from exc
        try:
            data = _data(item)
        except ValidationError as exc:
            raise Rejection(
                Reason.INVALID,
                "invalid market data",
                [{"loc": ["items", i, *e["loc"]], "msg": e["msg"]} for e in exc.errors()],
            ) from exc
        events.append(
            gw.factory.make(
                MarketDataEvent, ts_event=item.ts, instrument_id=inst.instrument_id, venue=inst.venue, data=data
            )
        )
    await gw.service.make_durable(events, "/ingest/market-data", deadline_of(gw, request))
    return JSONResponse(
        {"status": "accepted", "count": len(events), "event_ids": [e.event_id for e in events]}, status_code=202
    )


def _data(item: BarItem | QuoteItem | TradeItem) -> BarData | QuoteData | TradeData:
    if isinstance(item, QuoteItem):
        if item.ask < item.bid:
            raise ValidationError.from_exception_data(
                "quote",
                [{"type": "value_error", "loc": ("ask",), "input": str(item.ask), "ctx": {"error": "ask below bid"}}],
            )
        return QuoteData(bid=item.bid, ask=item.ask, bid_size=item.bid_size, ask_size=item.ask_size)
    if isinstance(item, BarItem):
        return BarData(
            interval=item.interval, open=item.open, high=item.high, low=item.low, close=item.close, volume=item.volume
        )
    return TradeData(price=item.price, size=item.size, aggressor=item.aggressor)


@router.post("/ingest/screenshot", status_code=202)
async def screenshot(
    gw: GatewayDep,
    request: Request,
    symbol: Annotated[str, Query(min_length=1, max_length=64)],
    interval: Annotated[str | None, Query(max_length=16)] = None,
) -> JSONResponse:
    """A chart image (PNG or JPEG, sniffed from the bytes) as the raw body; stored in the Object Store."""
    gw.service.admit(source_address(gw, request), "/ingest/screenshot", allowlist=False)
    require_api_key(gw, request)
    raw = await read_body(
        gw, request, gw.settings.max_image_bytes, ("image/png", "image/jpeg", "application/octet-stream")
    )
    request.state.raw_body = b""  # an image is not kept in a dead letter
    if raw.startswith(PNG_MAGIC):
        ctype = "image/png"
    elif raw.startswith(JPEG_MAGIC):
        ctype = "image/jpeg"
    else:
        raise Rejection(Reason.UNSUPPORTED_TYPE, "the bytes are neither PNG nor JPEG")
    try:
        inst = gw.catalog.resolve(symbol, now=utc_datetime(gw.clock.now_ns()))
    except (SymbolError, UnknownInstrumentError) as exc:
        raise Rejection(
            Reason.INVALID, "unknown symbol", [{"loc": ["query", "symbol"], "msg": str(exc)[:200]}]
        ) from exc
    if gw.bus is None or not gw.bus.connected:
        raise Rejection(Reason.NOT_DURABLE, "the object store (NATS) is unavailable")
    digest = hashlib.sha256(raw).hexdigest()
    name = f"{inst.instrument_id}/{digest}.{ctype.split('/')[1]}"
    try:
        async with asyncio.timeout(max(0.05, deadline_of(gw, request) - time.monotonic())):
            store = await _object_store(gw)
            await store.put(name, raw)
    except Exception as exc:
        raise Rejection(Reason.NOT_DURABLE, f"could not store the image: {type(exc).__name__}") from exc
    event = gw.factory.make(
        ChartSnapshotEvent,
        instrument_id=inst.instrument_id,
        interval=interval,
        bucket=subjects.OBJECT_STORE_CHARTS,
        object_name=name,
        content_type=ctype,
        size_bytes=len(raw),
        sha256=digest,
    )
    await gw.service.make_durable([event], "/ingest/screenshot", deadline_of(gw, request))
    return JSONResponse({"status": "accepted", "event_id": event.event_id, "object_name": name}, status_code=202)


async def _object_store(gw: Gateway):
    assert gw.bus is not None
    try:
        return await gw.bus.js.object_store(subjects.OBJECT_STORE_CHARTS)
    except Exception:
        return await gw.bus.js.create_object_store(subjects.OBJECT_STORE_CHARTS)
