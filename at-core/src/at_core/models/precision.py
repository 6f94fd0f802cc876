"""Decimal rounding to an instrument's price tick and quantity step. Never floats."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from at_core.errors import PrecisionError


class Rounding(StrEnum):
    NEAREST = "nearest"  # half-even: unbiased
    DOWN = "down"  # towards zero
    FLOOR = "floor"
    CEILING = "ceiling"
    EXACT = "exact"  # refuse a value off the grid


_MODES = {
    Rounding.NEAREST: ROUND_HALF_EVEN,
    Rounding.DOWN: ROUND_DOWN,
    Rounding.FLOOR: ROUND_FLOOR,
    Rounding.CEILING: ROUND_CEILING,
}


def round_to_increment(value: Decimal, increment: Decimal, rounding: Rounding = Rounding.NEAREST) -> Decimal:
    """Round ``value`` to a multiple of ``increment``, quantized to the increment's exponent.

    Args:
        value: the price or quantity.
        increment: the tick or step, > 0.
        rounding: how to round; ``EXACT`` raises when the value is off the grid.

    Raises:
        PrecisionError: ``rounding`` is EXACT and ``value`` is not a multiple.
        ValueError: ``increment`` is not positive.
    """
    if increment <= 0:
        raise ValueError("increment must be positive")
    units = value / increment
    if rounding is Rounding.EXACT:
        if units != units.to_integral_value():
            raise PrecisionError(value, increment)
        whole = units.to_integral_value()
    else:
        whole = units.to_integral_value(rounding=_MODES[rounding])
    result = whole * increment
    exponent = increment.normalize().as_tuple().exponent
    assert isinstance(exponent, int), "a positive finite increment has an integer exponent"
    return result.quantize(Decimal(1).scaleb(min(exponent, 0)))


def is_on_grid(value: Decimal, increment: Decimal) -> bool:
    return (value / increment) == (value / increment).to_integral_value()
