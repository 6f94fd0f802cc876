"""Bracket model: levels as prices or distances, resolved against the entry, checked for side."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from at_core.errors import BracketError
from at_core.events import OrderAccepted
from at_core.models.brackets import (
    BracketLevel,
    BracketRole,
    BracketSpec,
    BracketUnit,
    TrailingStop,
    resolve_bracket,
    trail_stop,
)
from at_core.models.enums import OrderSide, OrderType
from at_core.models.orders import OrderSpec
from at_core.serialization import decode_event, encode_event
from at_core.testing import example_events

D = Decimal
TICK = D("0.25")


def _bracket(**levels: BracketLevel | TrailingStop) -> BracketSpec:
    return BracketSpec.model_validate(levels)


def test_ticks_points_and_percent_resolve_from_the_entry_on_each_side() -> None:
    bracket = _bracket(
        stop_loss=BracketLevel(value=D(8), unit=BracketUnit.TICKS),
        take_profit=BracketLevel(value=D(10), unit=BracketUnit.POINTS),
    )
    long = resolve_bracket(bracket, side=OrderSide.BUY, entry_price=D("5000.25"), tick_size=TICK)
    assert (long.stop_price, long.take_profit_price) == (D("4998.25"), D("5010.25"))
    short = resolve_bracket(bracket, side=OrderSide.SELL, entry_price=D("5000.25"), tick_size=TICK)
    assert (short.stop_price, short.take_profit_price) == (D("5002.25"), D("4990.25"))
    pct = _bracket(stop_loss=BracketLevel(value=D(1), unit=BracketUnit.PERCENT))
    assert resolve_bracket(pct, side=OrderSide.BUY, entry_price=D(5000), tick_size=TICK).stop_price == D(4950)


def test_a_stop_is_rounded_away_from_the_entry_never_tighter_than_asked() -> None:
    pct = _bracket(stop_loss=BracketLevel(value=D("0.01"), unit=BracketUnit.PERCENT))  # 0.50025 points
    assert resolve_bracket(pct, side=OrderSide.BUY, entry_price=D("5002.5"), tick_size=TICK).stop_price == D("5001.75")
    assert resolve_bracket(pct, side=OrderSide.SELL, entry_price=D("5002.5"), tick_size=TICK).stop_price == D("5003.25")


@pytest.mark.parametrize(
    ("side", "field", "level"),
    [
        (OrderSide.BUY, "stop_loss", D(5001)),
        (OrderSide.BUY, "take_profit", D(4999)),
        (OrderSide.SELL, "stop_loss", D(4999)),
        (OrderSide.SELL, "take_profit", D(5000)),
    ],
)
def test_a_level_on_the_wrong_side_of_the_entry_is_a_bracket_error_naming_it(
    side: OrderSide, field: str, level: Decimal
) -> None:
    bracket = _bracket(**{field: BracketLevel(value=level)})
    with pytest.raises(BracketError) as err:
        resolve_bracket(bracket, side=side, entry_price=D(5000))
    assert err.value.field == field


def test_a_distance_past_zero_is_refused() -> None:
    bracket = _bracket(stop_loss=BracketLevel(value=D(200), unit=BracketUnit.POINTS))
    with pytest.raises(BracketError, match="not a positive price"):
        resolve_bracket(bracket, side=OrderSide.BUY, entry_price=D(100))


def test_ticks_need_a_tick_size() -> None:
    bracket = _bracket(stop_loss=BracketLevel(value=D(4), unit=BracketUnit.TICKS))
    with pytest.raises(ValueError, match="tick size"):
        resolve_bracket(bracket, side=OrderSide.BUY, entry_price=D(100))


def test_a_trailing_stop_alone_starts_its_distance_from_the_entry_and_only_tightens() -> None:
    bracket = _bracket(trailing_stop=TrailingStop(distance=D(10)))
    resolved = resolve_bracket(bracket, side=OrderSide.BUY, entry_price=D(5000), tick_size=TICK)
    assert (resolved.stop_price, resolved.trail_distance) == (D("4997.50"), D("2.50"))
    moved = trail_stop(D("4997.50"), side=OrderSide.BUY, best_price=D(5004), distance=D("2.50"), tick_size=TICK)
    assert moved == D("5001.50")
    assert trail_stop(moved, side=OrderSide.BUY, best_price=D(5001), distance=D("2.50"), tick_size=TICK) == moved
    short = trail_stop(D(5010), side=OrderSide.SELL, best_price=D(4990), distance=D(5), tick_size=TICK)
    assert short == D(4995)


def test_nonsense_levels_are_refused_by_the_model() -> None:
    with pytest.raises(ValidationError):
        BracketSpec()
    with pytest.raises(ValidationError):
        BracketLevel(value=D(0))
    with pytest.raises(ValidationError):
        BracketLevel(value=D(100), unit=BracketUnit.PERCENT)
    with pytest.raises(ValidationError):
        TrailingStop(distance=D(5), unit=BracketUnit.PRICE)
    with pytest.raises(ValidationError):
        BracketLevel(value=D(10) ** 7)


def test_an_order_spec_refuses_a_bracket_on_a_reduce_only_order_or_against_its_limit() -> None:
    stop = _bracket(stop_loss=BracketLevel(value=D(4990)))
    with pytest.raises(ValidationError, match="reduce-only"):
        OrderSpec(side=OrderSide.SELL, quantity=D(1), reduce_only=True, bracket=stop)
    with pytest.raises(ValidationError, match="below the entry"):
        OrderSpec(side=OrderSide.BUY, quantity=D(1), order_type=OrderType.LIMIT, limit_price=D(4980), bracket=stop)
    ok = OrderSpec(side=OrderSide.BUY, quantity=D(1), order_type=OrderType.LIMIT, limit_price=D(5000), bracket=stop)
    assert ok.bracket == stop


def test_unused_bracket_fields_are_left_out_of_the_encoding() -> None:
    """An event without a bracket encodes to the bytes it had before brackets existed (replay hashes)."""
    accepted = example_events()["order_accepted"]
    assert isinstance(accepted, OrderAccepted)
    data = encode_event(accepted)
    assert b"bracket" not in data and b"parent_client_order_id" not in data
    child = accepted.model_copy(update={"parent_client_order_id": "P-1", "bracket_role": BracketRole.STOP_LOSS})
    decoded = decode_event(encode_event(child))
    assert isinstance(decoded, OrderAccepted)
    assert (decoded.parent_client_order_id, decoded.bracket_role) == ("P-1", BracketRole.STOP_LOSS)
    order = OrderSpec(side=OrderSide.BUY, quantity=D(1))
    assert "bracket" not in order.model_dump()
