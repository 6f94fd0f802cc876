"""Order specification shared by proposals, execution requests and order events."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Self

from pydantic import Field, model_validator

from at_core.models.base import FrozenModel, PositiveDecimal, TimestampNs
from at_core.models.enums import OrderSide, OrderType, TimeInForce

ClientOrderId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-:.]+$")]


class OrderSpec(FrozenModel):
    """What to trade: side, size, type, prices and time in force.

    Validation enforces the combinations: a limit price exactly for limit and stop-limit
    orders, a stop price exactly for stop orders, an expiry exactly for GTD.
    """

    side: OrderSide
    quantity: PositiveDecimal
    order_type: OrderType = OrderType.MARKET
    time_in_force: TimeInForce = TimeInForce.GTC
    limit_price: PositiveDecimal | None = None
    stop_price: PositiveDecimal | None = None
    expire_time_ns: TimestampNs | None = None
    reduce_only: bool = False
    client_order_id: ClientOrderId | None = None

    @model_validator(mode="after")
    def _check_combination(self) -> Self:
        needs_limit = self.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        needs_stop = self.order_type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)
        if needs_limit != (self.limit_price is not None):
            raise ValueError(
                f"limit_price is {'required' if needs_limit else 'not allowed'} for {self.order_type} orders"
            )
        if needs_stop != (self.stop_price is not None):
            raise ValueError(
                f"stop_price is {'required' if needs_stop else 'not allowed'} for {self.order_type} orders"
            )
        if (self.time_in_force is TimeInForce.GTD) != (self.expire_time_ns is not None):
            raise ValueError("expire_time_ns is required exactly when time_in_force is gtd")
        return self

    @property
    def signed_quantity(self) -> Decimal:
        return self.quantity * self.side.sign
