"""What exec-sim's orders and ProjectX's records are in each other's terms (pure, no I/O).

Order types: 1 limit, 2 market, 4 stop, 5 trailing stop; sides: 0 bid (buy), 1 ask (sell);
order status: 0 none, 1 open, 2 filled, 3 cancelled, 4 expired, 5 rejected, 6 pending;
position type: 1 long, 2 short.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from at_core.catalog import Instrument
from at_core.models.enums import OrderSide, OrderType
from at_core.models.instruments import FutureContract
from at_core.models.orders import OrderSpec
from at_exec_sim.domain.ports import ReportStatus

LIMIT, MARKET, STOP, TRAILING_STOP = 1, 2, 4, 5
BUY, SELL = 0, 1
STATUS = {
    0: ReportStatus.PENDING,
    1: ReportStatus.ACCEPTED,
    2: ReportStatus.FILLED,
    3: ReportStatus.CANCELED,
    4: ReportStatus.CANCELED,
    5: ReportStatus.REJECTED,
    6: ReportStatus.PENDING,
}
#: How the gateway says a ``customTag`` is taken (its message; no error code is documented for it).
DUPLICATE_TAG_WORDS = ("customtag", "custom tag")


class UnsupportedOrderError(ValueError):
    """An order ProjectX cannot take as given (refused before anything is sent)."""


def d(value: Any) -> Decimal:
    return Decimal(str(value))


def contract_instrument(raw: dict[str, Any], venue: str) -> FutureContract:
    """A futures contract from a ``Contract/available`` record (tick size and tick value)."""
    tick, tick_value = d(raw["tickSize"]), d(raw["tickValue"])
    symbol_id = str(raw.get("symbolId") or raw["id"])
    return FutureContract(
        instrument_id=f"{raw['name']}.{venue}",
        symbol=str(raw["name"]),
        venue=venue,
        currency="USD",
        root=symbol_id.rsplit(".", 1)[-1],
        exchange=venue,
        price_increment=tick,
        size_increment=Decimal(1),
        min_quantity=Decimal(1),
        multiplier=tick_value / tick,
        tick_value=tick_value,
    )


def place_body(account_id: int, contract_id: str, client_order_id: str, spec: OrderSpec) -> dict[str, Any]:
    """The ``Order/place`` request; ``customTag`` carries the idempotency key (unique per account)."""
    if spec.quantity != spec.quantity.to_integral_value() or spec.quantity <= 0:
        raise UnsupportedOrderError(f"ProjectX takes whole contracts, not {spec.quantity}")
    body: dict[str, Any] = {
        "accountId": account_id,
        "contractId": contract_id,
        "side": BUY if spec.side is OrderSide.BUY else SELL,
        "size": int(spec.quantity),
        "limitPrice": None,
        "stopPrice": None,
        "trailPrice": None,
        "customTag": client_order_id,
    }
    if spec.order_type is OrderType.MARKET:
        body["type"] = MARKET
    elif spec.order_type is OrderType.LIMIT:
        body |= {"type": LIMIT, "limitPrice": float(spec.limit_price or 0)}
    elif spec.order_type is OrderType.STOP_MARKET:
        body |= {"type": STOP, "stopPrice": float(spec.stop_price or 0)}
    else:
        raise UnsupportedOrderError(f"ProjectX has no {spec.order_type} order")
    return body


def is_duplicate_tag(body: dict[str, Any]) -> bool:
    message = str(body.get("errorMessage") or "").lower()
    return any(w in message for w in DUPLICATE_TAG_WORDS) and any(
        w in message for w in ("unique", "exist", "duplicate", "already", "in use")
    )


def instrument_contract(instrument: Instrument, contracts: dict[str, str]) -> str:
    try:
        return contracts[instrument.symbol]
    except KeyError:
        raise UnsupportedOrderError(f"{instrument.instrument_id} is not a ProjectX contract of this account") from None
