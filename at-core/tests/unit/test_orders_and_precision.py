"""Order specs validate their combinations; rounding stays on the grid, in Decimal."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from at_core.errors import PrecisionError
from at_core.models.enums import OrderSide, OrderType, TimeInForce
from at_core.models.orders import OrderSpec
from at_core.models.precision import Rounding, round_to_increment


def test_limit_orders_need_a_limit_price_and_market_orders_refuse_one() -> None:
    with pytest.raises(ValidationError, match="limit_price is required"):
        OrderSpec(side=OrderSide.BUY, quantity=Decimal(1), order_type=OrderType.LIMIT)
    with pytest.raises(ValidationError, match="limit_price is not allowed"):
        OrderSpec(side=OrderSide.BUY, quantity=Decimal(1), limit_price=Decimal(1))


def test_stop_limit_needs_both_prices() -> None:
    with pytest.raises(ValidationError, match="stop_price is required"):
        OrderSpec(side=OrderSide.SELL, quantity=Decimal(1), order_type=OrderType.STOP_LIMIT, limit_price=Decimal(9))
    spec = OrderSpec(
        side=OrderSide.SELL,
        quantity=Decimal(1),
        order_type=OrderType.STOP_LIMIT,
        limit_price=Decimal(9),
        stop_price=Decimal(10),
    )
    assert spec.signed_quantity == Decimal(-1)


def test_gtd_needs_an_expiry() -> None:
    with pytest.raises(ValidationError, match="expire_time_ns"):
        OrderSpec(side=OrderSide.BUY, quantity=Decimal(1), time_in_force=TimeInForce.GTD)


def test_quantity_must_be_positive() -> None:
    with pytest.raises(ValidationError):
        OrderSpec(side=OrderSide.BUY, quantity=Decimal(0))


@pytest.mark.parametrize(
    ("value", "increment", "rounding", "expected"),
    [
        ("5000.13", "0.25", Rounding.NEAREST, "5000.25"),
        ("5000.12", "0.25", Rounding.NEAREST, "5000.00"),
        ("5000.24", "0.25", Rounding.FLOOR, "5000.00"),
        ("5000.01", "0.25", Rounding.CEILING, "5000.25"),
        ("1.23456", "0.00001", Rounding.NEAREST, "1.23456"),
        ("0.0123456", "0.001", Rounding.DOWN, "0.012"),
        ("110.0155", "0.015625", Rounding.NEAREST, "110.015625"),
    ],
)
def test_rounding_to_tick(value: str, increment: str, rounding: Rounding, expected: str) -> None:
    assert round_to_increment(Decimal(value), Decimal(increment), rounding) == Decimal(expected)


def test_exact_rounding_refuses_an_off_grid_value() -> None:
    with pytest.raises(PrecisionError):
        round_to_increment(Decimal("5000.1"), Decimal("0.25"), Rounding.EXACT)
