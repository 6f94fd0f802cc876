"""Bracket fields on an alert (TradingView, PineScript JSON): parse, bound, check the sides. Pure.

Flat fields, one form per level (a second form for the same level is refused, never guessed):

| level | as a price | as a distance from the entry |
|---|---|---|
| stop loss | ``stop_loss`` | ``stop_loss_ticks``, ``stop_loss_points``, ``stop_loss_percent`` |
| take profit | ``take_profit`` | ``take_profit_ticks``, ``take_profit_points``, ``take_profit_percent`` |
| trailing stop | (none: always a distance) | ``trailing_stop_ticks``, ``trailing_stop_points``, ``trailing_stop_percent`` |

A bracket belongs to an entry (``buy``, ``sell``, ``target``): on ``exit`` it is refused. An
absolute level is checked against the alert's reference price (its limit, its stop, else its
``price``/``close``): a buy's stop must be below it, its target above. Without a reference the
check is exec-sim's (reason ``bracket_invalid``), against the market price.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from at_core.errors import BracketError
from at_core.models.brackets import BracketLevel, BracketSpec, BracketUnit, TrailingStop, resolve_bracket
from at_core.models.enums import OrderSide, PositionSide, SignalAction

Errors = list[dict[str, Any]]

_UNITS = (("", BracketUnit.PRICE), ("_ticks", BracketUnit.TICKS), ("_points", BracketUnit.POINTS),
          ("_percent", BracketUnit.PERCENT))  # fmt: skip


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        return None
    return number if number.is_finite() else None


def _level(
    fields: dict[str, Any], name: str, units: tuple[tuple[str, BracketUnit], ...], errors: Errors
) -> BracketLevel | None:
    given = [(f"{name}{suffix}", unit) for suffix, unit in units if fields.get(f"{name}{suffix}") not in (None, "")]
    if len(given) > 1:
        errors.append({"loc": [given[1][0]], "msg": f"give {name} once: {' and '.join(g for g, _ in given)} both set"})
        return None
    if not given:
        return None
    field_name, unit = given[0]
    number = _number(fields[field_name])
    if number is None:
        errors.append({"loc": [field_name], "msg": "not a number"})
        return None
    try:
        return BracketLevel(value=number, unit=unit)
    except ValidationError as exc:  # out of bounds: at or below 0, above 1,000,000, a percent of 100 or more
        errors.append({"loc": [field_name], "msg": "; ".join(_bound_message(e) for e in exc.errors())})
        return None


def parse_bracket(
    fields: dict[str, Any],
    action: SignalAction | None,
    reference_price: Decimal | None,
    market_position: PositionSide | None,
    errors: Errors,
) -> BracketSpec | None:
    """The alert's bracket, or None when it has no bracket field; problems are appended to ``errors``.

    Args:
        fields: the parsed alert (flat, lower-case names).
        action: the alert's action (a bracket needs an entry).
        reference_price: the entry's expected price (limit, stop, else price/close), for the side check.
        market_position: for a ``target`` alert, the side it leaves the strategy on.
        errors: field errors, each with a ``loc`` path.
    """
    before = len(errors)
    stop = _level(fields, "stop_loss", _UNITS, errors)
    target = _level(fields, "take_profit", _UNITS, errors)
    trail = _level(fields, "trailing_stop", _UNITS[1:], errors)
    if len(errors) > before or (stop is None and target is None and trail is None):
        return None
    if action in (SignalAction.EXIT, SignalAction.NONE):
        errors.append({"loc": ["stop_loss"], "msg": "a bracket belongs to an entry (buy, sell, target), not to exit"})
        return None
    trailing = TrailingStop(distance=trail.value, unit=trail.unit) if trail else None
    bracket = BracketSpec(stop_loss=stop, take_profit=target, trailing_stop=trailing)
    side = _entry_side(action, market_position)
    absolute = bracket.absolute_part()
    if side is not None and reference_price is not None and absolute is not None:
        try:
            resolve_bracket(absolute, side=side, entry_price=reference_price)
        except BracketError as exc:
            errors.append({"loc": [exc.field], "msg": str(exc)})
            return None
    return bracket


def _entry_side(action: SignalAction | None, market_position: PositionSide | None) -> OrderSide | None:
    if action is SignalAction.BUY:
        return OrderSide.BUY
    if action is SignalAction.SELL:
        return OrderSide.SELL
    if action is SignalAction.TARGET and market_position is PositionSide.LONG:
        return OrderSide.BUY
    if action is SignalAction.TARGET and market_position is PositionSide.SHORT:
        return OrderSide.SELL
    return None


def _bound_message(err: Any) -> str:
    return str(err.get("msg", "invalid")).removeprefix("Value error, ")
