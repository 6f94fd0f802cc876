"""Properties (hypothesis): round trips and invariants hold for all inputs, not just examples."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from at_core import subjects
from at_core.catalog import InstrumentCatalog
from at_core.errors import SubjectTokenError
from at_core.models.futures_specs import FUTURE_SPECS
from at_core.models.precision import Rounding, is_on_grid, round_to_increment
from at_core.serialization import decode_event, encode_event
from at_core.symbols import FX_CURRENCIES, normalize_ticker
from at_core.testing import all_examples

increments = st.sampled_from(
    [Decimal(x) for x in ("0.25", "0.01", "0.1", "0.00005", "0.015625", "1", "0.00001", "0.001")]
)
prices = st.decimals(
    min_value=Decimal("0.00001"), max_value=Decimal("1000000"), places=6, allow_nan=False, allow_infinity=False
)


# 21 characters of 4 UTF-8 bytes, each escaped to 3 characters, fill the 256-byte token limit:
# a longer value may be refused (test_a_token_too_long_once_escaped_is_refused), not escaped.
@given(st.text(min_size=1, max_size=21))
def test_subject_escaping_round_trips_and_yields_one_safe_token(value: str) -> None:
    token = subjects.escape_token(value)
    assert subjects.unescape_token(token) == value
    assert "." not in token and "*" not in token and ">" not in token and not any(c.isspace() for c in token)


def _escape_char_by_char(value: str) -> str:
    """The spelling subjects had before escaping became one substitution: it must not change."""
    out = []
    for ch in value:
        if re.fullmatch(r"[A-Za-z0-9_\-]", ch):
            out.append(ch)
        else:
            out.extend(f"~{b:02X}" for b in ch.encode())
    return "".join(out)


@given(st.text(min_size=1, max_size=21))
def test_subject_escaping_spells_tokens_as_it_always_has(value: str) -> None:
    assert subjects.escape_token(value) == _escape_char_by_char(value)


def test_a_token_too_long_once_escaped_is_refused() -> None:
    with pytest.raises(SubjectTokenError):
        subjects.escape_token("\U0001f600" * 22)


@given(prices, increments, st.sampled_from(list(Rounding)[:-1]))
def test_rounding_lands_on_the_grid_within_one_increment(
    value: Decimal, increment: Decimal, rounding: Rounding
) -> None:
    rounded = round_to_increment(value, increment, rounding)
    assert is_on_grid(rounded, increment)
    assert abs(rounded - value) < increment


@given(st.sampled_from(all_examples()), st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999"), places=4))
def test_events_round_trip_with_any_price(event, price: Decimal) -> None:
    if "price" in type(event).model_fields and event.event_type in ("signal", "fill"):
        event = event.model_copy(update={"price": price})
    data = encode_event(event)
    assert encode_event(decode_event(data)) == data


@given(st.sampled_from(sorted(FUTURE_SPECS)), st.sampled_from(["", "CME_MINI:", "CME:"]))
def test_every_futures_root_normalises_as_continuous(root: str, prefix: str) -> None:
    ref = normalize_ticker(f"{prefix}{root}1!")
    assert ref.root == root and InstrumentCatalog().get(ref.instrument_id).multiplier == FUTURE_SPECS[root].multiplier


@given(
    st.sampled_from(sorted(FX_CURRENCIES)),
    st.sampled_from(sorted(FX_CURRENCIES)),
    st.sampled_from(["", "OANDA:", "FX:"]),
)
def test_every_pair_of_distinct_currencies_is_an_fx_pair(base: str, quote: str, prefix: str) -> None:
    if base == quote:
        return
    ref = normalize_ticker(f"{prefix}{base}{quote}")
    assert ref.instrument_id == f"{base}/{quote}.FX"
