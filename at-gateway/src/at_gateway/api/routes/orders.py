"""Manual execution requests from operators (authenticated by API key, not webhook secrets)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from at_core.errors import SymbolError, UnknownInstrumentError
from at_core.events import ExecutionRequest
from at_core.models.brackets import BracketSpec
from at_core.models.enums import OrderSide, OrderType, TimeInForce
from at_core.models.instruments import FutureContract
from at_core.models.orders import OrderSpec
from at_gateway.api.deps import GatewayDep
from at_gateway.api.openapi_bodies import ORDER_EXAMPLES, model_body
from at_gateway.api.pipeline import deadline_of, read_body, source_address
from at_gateway.api.routes.ingest import BoundedDecimal, _errors, check_shape, require_api_key
from at_gateway.domain.instruments import utc_datetime
from at_gateway.errors import Reason, Rejection

router = APIRouter(tags=["orders"])


class OrderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_id: str = Field(min_length=1, max_length=128)
    symbol: str = Field(min_length=1, max_length=64, description="Ticker or canonical instrument id")
    side: OrderSide
    quantity: BoundedDecimal = Field(gt=0)
    order_type: OrderType = OrderType.MARKET
    time_in_force: TimeInForce = TimeInForce.GTC
    limit_price: BoundedDecimal | None = Field(default=None, gt=0)
    stop_price: BoundedDecimal | None = Field(default=None, gt=0)
    expire_time_ns: int | None = Field(default=None, ge=0, lt=2**63)
    reduce_only: bool = False
    strategy_id: str = Field(default="manual", min_length=1, max_length=128)
    note: str = Field(default="", max_length=500)
    bracket: BracketSpec | None = Field(
        default=None,
        description="Exits placed when the entry fills: stop_loss / take_profit as {value, unit: price|ticks|"
        "points|percent}, trailing_stop as {distance, unit: ticks|points|percent}",
    )


@router.post(
    "/orders",
    status_code=202,
    openapi_extra=model_body(
        OrderRequest, ORDER_EXAMPLES, "A manual order (needs a trader key: Bearer dev-api-key on a fresh clone)"
    ),
)
async def submit_order(gw: GatewayDep, request: Request) -> JSONResponse:
    """A manual order (``X-API-Key``), published as an ExecutionRequest; exec-sim's risk engine decides."""
    gw.service.admit(source_address(gw, request), "/orders", allowlist=False)
    who = require_api_key(gw, request)
    raw = await read_body(gw, request, gw.settings.max_body_bytes, ("application/json",))
    check_shape(gw, raw)
    try:
        req = OrderRequest.model_validate_json(raw)
        order = OrderSpec(
            side=req.side,
            quantity=req.quantity,
            order_type=req.order_type,
            time_in_force=req.time_in_force,
            limit_price=req.limit_price,
            stop_price=req.stop_price,
            expire_time_ns=req.expire_time_ns,
            reduce_only=req.reduce_only,
            bracket=req.bracket,
        )
    except ValidationError as exc:
        raise Rejection(Reason.INVALID, "invalid order", _errors(exc)) from exc
    now = utc_datetime(gw.clock.now_ns())
    try:
        inst = (
            gw.catalog.get(req.symbol)
            if "." in req.symbol and ":" not in req.symbol
            else gw.catalog.resolve(req.symbol, now=now)
        )
    except (SymbolError, UnknownInstrumentError) as exc:
        raise Rejection(Reason.INVALID, "unknown symbol", [{"loc": ["symbol"], "msg": str(exc)[:200]}]) from exc
    if isinstance(inst, FutureContract) and inst.expiry is not None and now.date() > inst.expiry:
        raise Rejection(
            Reason.INVALID,
            "expired contract",
            [{"loc": ["symbol"], "msg": f"{inst.instrument_id} expired: its last trade date was {inst.expiry}"}],
        )
    if error := gw.service.quantity.error(
        req.quantity,
        gw.service.quantity.max_for(inst.instrument_id, inst.max_quantity, inst.asset_class),
        inst.instrument_id,
        ["quantity"],
    ):
        raise Rejection(Reason.INVALID, "quantity out of bounds", [error])
    event = gw.factory.make(
        ExecutionRequest,
        account_id=req.account_id,
        instrument_id=inst.instrument_id,
        order=order,
        requested_by=who,
        strategy_id=req.strategy_id,
        note=req.note,
    )
    await gw.service.make_durable([event], "/orders", deadline_of(gw, request))
    return JSONResponse(
        {"status": "accepted", "event_id": event.event_id, "correlation_id": event.correlation_id}, status_code=202
    )
