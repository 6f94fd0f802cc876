"""Bracket orders: an entry with a stop loss, a take profit and/or a trailing stop attached.

A bracket is *intent* carried on the entry's :class:`~at_core.models.orders.OrderSpec`
(``order.bracket``): each level is an absolute price or a distance from the entry (ticks,
points or percent). The venue resolves the distances against the entry's fill price
(:func:`resolve_bracket`) and places the children: a reduce-only stop (stop market) and a
reduce-only target (limit), one-cancels-other, sized to what the entry filled. Children's
order events carry ``parent_client_order_id`` and ``bracket_role``.

Everything here is pure: no clock, no I/O.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, model_validator

from at_core.errors import BracketError
from at_core.models.base import FrozenModel, PositiveDecimal
from at_core.models.enums import OrderSide
from at_core.models.precision import Rounding, round_to_increment

#: Largest distance accepted, in any unit: a bound on nonsense, far above any real stop.
MAX_DISTANCE = Decimal(1_000_000)
#: A percent distance must stay below this (100 % would put a long's stop at zero).
MAX_PERCENT = Decimal(100)


class BracketUnit(StrEnum):
    """How a bracket level is expressed."""

    PRICE = "price"  # an absolute price
    TICKS = "ticks"  # instrument price ticks from the entry
    POINTS = "points"  # price units from the entry (ES: 1 point = 4 ticks)
    PERCENT = "percent"  # percent of the entry price


class BracketRole(StrEnum):
    """What an order is within its bracket."""

    ENTRY = "entry"
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"


class BracketLevel(FrozenModel):
    """A stop loss or take profit: ``value`` in ``unit`` (a price, or a distance from the entry)."""

    value: Annotated[PositiveDecimal, Field(le=MAX_DISTANCE)]
    unit: BracketUnit = BracketUnit.PRICE

    @model_validator(mode="after")
    def _percent_below_hundred(self) -> Self:
        if self.unit is BracketUnit.PERCENT and self.value >= MAX_PERCENT:
            raise ValueError("a percent distance must be below 100")
        return self

    def distance(self, entry_price: Decimal, tick_size: Decimal | None) -> Decimal | None:
        """The distance from ``entry_price`` in price units; None for an absolute price.

        Raises:
            ValueError: ``unit`` is ticks and no ``tick_size`` is known.
        """
        match self.unit:
            case BracketUnit.PRICE:
                return None
            case BracketUnit.POINTS:
                return self.value
            case BracketUnit.PERCENT:
                return entry_price * self.value / 100
            case BracketUnit.TICKS:
                if tick_size is None or tick_size <= 0:
                    raise ValueError("a distance in ticks needs the instrument's tick size")
                return self.value * tick_size


class TrailingStop(FrozenModel):
    """A stop that follows the best price since entry at ``distance`` behind it (never loosens)."""

    distance: Annotated[PositiveDecimal, Field(le=MAX_DISTANCE)]
    unit: BracketUnit = BracketUnit.TICKS

    @model_validator(mode="after")
    def _a_distance(self) -> Self:
        if self.unit is BracketUnit.PRICE:
            raise ValueError("a trailing stop is a distance: ticks, points or percent, not a price")
        if self.unit is BracketUnit.PERCENT and self.distance >= MAX_PERCENT:
            raise ValueError("a percent distance must be below 100")
        return self

    def price_distance(self, entry_price: Decimal, tick_size: Decimal | None) -> Decimal:
        """The trailing distance in price units (a percent is taken of ``entry_price``)."""
        level = BracketLevel(value=self.distance, unit=self.unit)
        distance = level.distance(entry_price, tick_size)
        assert distance is not None, "validated: never an absolute price"
        return distance


class BracketSpec(FrozenModel):
    """The exits attached to an entry. At least one of the three.

    With both ``stop_loss`` and ``trailing_stop``, the stop starts at the stop loss and then
    trails; with ``trailing_stop`` alone it starts ``distance`` from the entry fill.
    """

    stop_loss: BracketLevel | None = None
    take_profit: BracketLevel | None = None
    trailing_stop: TrailingStop | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> Self:
        if self.stop_loss is None and self.take_profit is None and self.trailing_stop is None:
            raise ValueError("a bracket needs a stop_loss, a take_profit or a trailing_stop")
        return self

    @property
    def has_stop(self) -> bool:
        return self.stop_loss is not None or self.trailing_stop is not None

    def absolute_part(self) -> BracketSpec | None:
        """Only the levels given as prices (checkable before any fill), or None when there are none."""
        stop = self.stop_loss if self.stop_loss is not None and self.stop_loss.unit is BracketUnit.PRICE else None
        target = (
            self.take_profit if self.take_profit is not None and self.take_profit.unit is BracketUnit.PRICE else None
        )
        if stop is None and target is None:
            return None
        return BracketSpec(stop_loss=stop, take_profit=target)


class ResolvedBracket(FrozenModel):
    """A bracket's prices against one entry price, rounded to the tick (the stop away from the entry)."""

    stop_price: PositiveDecimal | None = None
    take_profit_price: PositiveDecimal | None = None
    trail_distance: PositiveDecimal | None = None


def _level_price(
    level: BracketLevel, *, side: OrderSide, entry: Decimal, tick_size: Decimal | None, adverse: bool
) -> Decimal:
    distance = level.distance(entry, tick_size)
    if distance is None:
        return level.value
    # A long's stop is below the entry (adverse = against the position), its target above.
    direction = -side.sign if adverse else side.sign
    return entry + direction * distance


def resolve_bracket(
    bracket: BracketSpec,
    *,
    side: OrderSide,
    entry_price: Decimal,
    tick_size: Decimal | None = None,
    check_sides: bool = True,
) -> ResolvedBracket:
    """The stop and target prices of ``bracket`` for an entry on ``side`` at ``entry_price``.

    Prices are rounded to ``tick_size`` when given: the stop away from the entry (never a
    tighter stop than asked), the target to the nearest tick. ``check_sides`` False (a venue placing
    the children after the fill) keeps an absolute level the fill already passed: a stop through
    the market then triggers at once, as the trader's stop asks.

    Raises:
        BracketError: a level resolves at or below zero, or on the wrong side of the entry (a
            long's stop at or above the entry, its target at or below); ``field`` names it.
        ValueError: a distance in ticks without a tick size.
    """
    stop: Decimal | None = None
    if bracket.stop_loss is not None:
        stop = _level_price(bracket.stop_loss, side=side, entry=entry_price, tick_size=tick_size, adverse=True)
    trail: Decimal | None = None
    if bracket.trailing_stop is not None:
        trail = bracket.trailing_stop.price_distance(entry_price, tick_size)
        if stop is None:
            stop = entry_price - side.sign * trail
    target: Decimal | None = None
    if bracket.take_profit is not None:
        target = _level_price(bracket.take_profit, side=side, entry=entry_price, tick_size=tick_size, adverse=False)
    if tick_size is not None:
        if stop is not None:
            stop = round_to_increment(stop, tick_size, Rounding.FLOOR if side is OrderSide.BUY else Rounding.CEILING)
        if target is not None:
            target = round_to_increment(target, tick_size)
        if trail is not None:
            trail = max(round_to_increment(trail, tick_size, Rounding.CEILING), tick_size)
    if stop is not None:
        _check_side(stop, entry_price, side, field="stop_loss", adverse=True, sides=check_sides)
    if target is not None:
        _check_side(target, entry_price, side, field="take_profit", adverse=False, sides=check_sides)
    return ResolvedBracket(stop_price=stop, take_profit_price=target, trail_distance=trail)


def _check_side(price: Decimal, entry: Decimal, side: OrderSide, *, field: str, adverse: bool, sides: bool) -> None:
    if price <= 0:
        raise BracketError(f"{field} resolves to {price}, not a positive price", field=field)
    if not sides:
        return
    wrong = (price - entry) * side.sign * (-1 if adverse else 1) <= 0
    if wrong:
        where = ("below" if adverse else "above") if side is OrderSide.BUY else ("above" if adverse else "below")
        raise BracketError(f"{field} {price} must be {where} the entry {entry} for a {side.value} entry", field=field)


def trail_stop(
    current_stop: Decimal, *, side: OrderSide, best_price: Decimal, distance: Decimal, tick_size: Decimal | None
) -> Decimal:
    """A trailing stop after the market reached ``best_price``: tightened, never loosened.

    ``side`` is the entry's side (a long's stop trails ``distance`` below the highest price).
    """
    candidate = best_price - side.sign * distance
    if tick_size is not None:
        candidate = round_to_increment(
            candidate, tick_size, Rounding.FLOOR if side is OrderSide.BUY else Rounding.CEILING
        )
    if side is OrderSide.BUY:
        return max(current_stop, candidate)
    return min(current_stop, candidate)
