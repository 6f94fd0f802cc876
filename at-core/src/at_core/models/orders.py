"""Order specification shared by proposals, execution requests and order events."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, ClassVar, Self

from pydantic import Field, model_validator

from at_core.errors import BracketError
from at_core.models.base import FrozenModel, PositiveDecimal, TimestampNs
from at_core.models.brackets import BracketSpec, resolve_bracket
from at_core.models.enums import OrderSide, OrderType, TimeInForce

ClientOrderId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-:.]+$")]


class OrderSpec(FrozenModel):
    """What to trade: side, size, type, prices and time in force.

    Validation enforces the combinations: a limit price exactly for limit and stop-limit
    orders, a stop price exactly for stop orders, an expiry exactly for GTD. A ``bracket``
    (stop loss, take profit, trailing stop; see :mod:`at_core.models.brackets`) belongs to an
    entry: never on a reduce-only order; its absolute prices must sit on the right side of a
    limit entry's price.
    """

    OMIT_WHEN_DEFAULT: ClassVar[frozenset[str]] = frozenset({"bracket"})

    side: OrderSide
    quantity: PositiveDecimal
    order_type: OrderType = OrderType.MARKET
    time_in_force: TimeInForce = TimeInForce.GTC
    limit_price: PositiveDecimal | None = None
    stop_price: PositiveDecimal | None = None
    expire_time_ns: TimestampNs | None = None
    reduce_only: bool = False
    client_order_id: ClientOrderId | None = None
    bracket: BracketSpec | None = Field(
        default=None, description="Exits to attach once the entry fills (reduce-only OCO children)"
    )

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
        if self.bracket is not None:
            self._check_bracket(self.bracket)
        return self

    def _check_bracket(self, bracket: BracketSpec) -> None:
        if self.reduce_only:
            raise ValueError("a bracket attaches to an entry, not to a reduce-only order")
        entry = self.limit_price if self.limit_price is not None else self.stop_price
        absolute = bracket.absolute_part()
        if entry is not None and absolute is not None:  # a market entry: checked against its fill
            try:
                resolve_bracket(absolute, side=self.side, entry_price=entry)
            except BracketError as exc:
                raise ValueError(str(exc)) from exc

    @property
    def signed_quantity(self) -> Decimal:
        return self.quantity * self.side.sign
