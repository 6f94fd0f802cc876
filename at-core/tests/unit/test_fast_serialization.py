"""orjson encodes events exactly as the reference (json) path does: the same bytes, or the same error."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from at_core.events import EVENT_CLASSES
from at_core.models.base import FrozenModel
from at_core.models.enums import OrderSide, OrderStatus, OrderType, SignalAction
from at_core.serialization import (
    canonical_dumps,
    decode_event,
    encode_event,
    fast_canonical_dumps,
    orjson_safe,
)
from at_core.testing import all_examples

# What at-core's models dump to: no floats, enums of str values; everything else at its edges
# (integers past 64 bits, every code point including lone surrogates, Decimal NaN and infinities).
leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.text()
    | st.decimals()
    | st.dates()
    | st.times()
    | st.datetimes(timezones=st.none() | st.just(UTC) | st.just(timezone(timedelta(hours=-5))))
    | st.sampled_from([*OrderSide, *OrderStatus, *OrderType, *SignalAction])
)
keys = st.text() | st.integers() | st.sampled_from([*OrderSide])  # non-str keys: orjson refuses, the reference converts
event_like = st.recursive(
    leaves,
    lambda inner: st.lists(inner) | st.tuples(inner, inner) | st.dictionaries(keys, inner),
    max_leaves=30,
)


def _outcome(fn: Any, data: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(data)
    except Exception as exc:
        return "error", type(exc)


@settings(max_examples=500)
@given(event_like)
def test_the_fast_encoder_gives_the_reference_bytes_or_the_reference_error(data: Any) -> None:
    assert _outcome(fast_canonical_dumps, data) == _outcome(canonical_dumps, data)


@pytest.mark.parametrize("event", all_examples(), ids=lambda e: e.event_type)
def test_every_event_example_encodes_to_the_reference_bytes_through_the_fast_path(event: Any) -> None:
    assert orjson_safe(type(event))
    assert encode_event(event) == canonical_dumps(event.model_dump(mode="python"))


def test_every_event_type_takes_the_fast_path() -> None:
    assert [cls.__name__ for cls in EVENT_CLASSES if not orjson_safe(cls)] == []


class _WithFloat(FrozenModel):
    ratio: float
    labels: dict[str, Any] = {}


def test_a_model_that_can_hold_floats_or_anything_takes_the_reference_path() -> None:
    assert not orjson_safe(_WithFloat)
    # why: orjson writes NaN as null where the reference refuses it
    assert fast_canonical_dumps({"x": math.nan}) == b'{"x":null}'
    with pytest.raises(ValueError):
        canonical_dumps({"x": math.nan})


def test_integers_beyond_64_bits_fall_back_to_the_reference() -> None:
    assert (
        fast_canonical_dumps({"n": 2**64 + 1, "m": -(2**63) - 1})
        == b'{"m":-9223372036854775809,"n":18446744073709551617}'
    )


def test_a_lone_surrogate_is_refused_as_the_reference_refuses_it() -> None:
    with pytest.raises(UnicodeEncodeError):
        fast_canonical_dumps({"s": "\ud800"})


@pytest.mark.parametrize("event", all_examples(), ids=lambda e: e.event_type)
def test_every_event_example_decodes_to_itself(event: Any) -> None:
    assert decode_event(encode_event(event)) == event


def test_dates_times_and_datetimes_are_spelt_by_isoformat() -> None:
    value = {"d": date(2026, 1, 2), "t": time(1, 2, 3, 4), "dt": datetime(2026, 1, 2, 3, 4, 5, 6, UTC)}
    assert fast_canonical_dumps(value) == canonical_dumps(value)
    assert fast_canonical_dumps({"x": Decimal("1.500")}) == b'{"x":"1.5"}'
