"""Ids are ULIDs made from an injected clock and RNG; derived ids are stable."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from at_core.clock import ManualClock, datetime_to_ns, ns_to_datetime
from at_core.ids import IdGenerator, derive_id, is_ulid, ulid_from_parts, ulid_timestamp_ms


def test_ids_are_ulids_sortable_by_time() -> None:
    clock = ManualClock(1_700_000_000_000_000_000)
    gen = IdGenerator(clock, random.Random(1))
    first = gen.new()
    clock.advance(1_000_000)
    second = gen.new()
    assert is_ulid(first) and is_ulid(second)
    assert first < second
    assert ulid_timestamp_ms(first) == 1_700_000_000_000


def test_ids_within_one_millisecond_are_strictly_increasing() -> None:
    gen = IdGenerator(ManualClock(5_000_000), random.Random(2))
    ids = [gen.new() for _ in range(1000)]
    assert ids == sorted(ids) and len(set(ids)) == 1000


def test_same_seed_and_clock_give_the_same_ids() -> None:
    make = lambda: [IdGenerator(ManualClock(9_000_000_000), random.Random(42)).new() for _ in range(3)]  # noqa: E731
    assert make() == make()


def test_derived_ids_are_stable_and_distinct_by_purpose() -> None:
    parent = IdGenerator(ManualClock(10**18), random.Random(3)).new()
    assert derive_id(parent, "proposal") == derive_id(parent, "proposal")
    assert derive_id(parent, "proposal") != derive_id(parent, "order")
    assert ulid_timestamp_ms(derive_id(parent, "x")) == ulid_timestamp_ms(parent)


def test_manual_clock_never_moves_backwards_on_advance_to() -> None:
    clock = ManualClock(100)
    clock.advance_to(50)
    assert clock.now_ns() == 100
    clock.advance_to(150)
    assert clock.now_ns() == 150


def test_datetime_conversion_refuses_naive_datetimes() -> None:
    assert ns_to_datetime(datetime_to_ns(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))) == datetime(
        2026, 1, 2, 3, 4, 5, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="naive"):
        datetime_to_ns(datetime(2026, 1, 2))


def _reference_encode(value: int) -> str:
    """The plain one-digit-at-a-time encoding the table lookup must equal."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    return "".join(alphabet[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def _reference_timestamp(ulid: str) -> int:
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    value = 0
    for ch in ulid.upper():
        value = (value << 5) | alphabet.index(ch)
    return value >> 80


@given(st.integers(0, 2**48 - 1), st.integers(0, 2**80 - 1))
def test_ulids_encode_and_decode_as_plain_crockford_base32(ts_ms: int, randomness: int) -> None:
    ulid = ulid_from_parts(ts_ms, randomness)
    assert ulid == _reference_encode((ts_ms << 80) | randomness)
    assert ulid_timestamp_ms(ulid) == ulid_timestamp_ms(ulid.lower()) == _reference_timestamp(ulid) == ts_ms


@given(st.lists(st.tuples(st.integers(0, 2**48 - 1), st.integers(0, 2**80 - 1)), min_size=1, max_size=8))
def test_a_repeated_timestamp_encodes_as_it_did_the_first_time(parts: list[tuple[int, int]]) -> None:
    """The time half is encoded once per timestamp (every holder of one quote shares it): ids
    made with the same, then another, then the first timestamp again are the plain encoding."""
    for ts_ms, randomness in [*parts, *parts[::-1], *parts]:
        assert ulid_from_parts(ts_ms, randomness) == _reference_encode((ts_ms << 80) | randomness)
        assert ulid_from_parts(ts_ms, randomness ^ 1) == _reference_encode((ts_ms << 80) | (randomness ^ 1))


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "01ARZ3NDEKTSV4RRFFQ69G5FA",
        "01ARZ3NDEKTSV4RRFFQ69G5FAVX",
        "01ARZ3NDEK-SV4RRFFQ69G5FAV",
        "01ARZ3NDEKTSV4RRFFQ69G5FAU",
        "01ARZ3NDEKTSV4RRFFQ69G5FÄV",
    ],
)
def test_a_timestamp_is_read_only_from_a_well_formed_ulid(bad: str) -> None:
    with pytest.raises(ValueError, match="ULID"):
        ulid_timestamp_ms(bad)


def test_an_event_without_a_cause_derives_its_id_from_the_root_it_is_given() -> None:
    from at_core.events import EventFactory, Heartbeat

    clock = ManualClock(10**18)
    factory = EventFactory("agents", clock, IdGenerator(clock, random.Random(4)))
    root = derive_id("00000000000000000000000000", "external-key", ts_ns=0)
    first = factory.make(
        Heartbeat, derive_from="beat", derive_root=root, correlation_id=root, service="agents", instance="a1"
    )
    clock.advance(5)
    again = factory.make(
        Heartbeat, derive_from="beat", derive_root=root, correlation_id=root, service="agents", instance="a1"
    )
    assert first.event_id == again.event_id == derive_id(root, "beat")
    assert first.correlation_id == root and first.causation_id is None


def test_derive_from_without_a_cause_or_a_root_is_refused() -> None:
    from at_core.events import EventFactory, Heartbeat

    clock = ManualClock(10**18)
    factory = EventFactory("agents", clock, IdGenerator(clock, random.Random(5)))
    with pytest.raises(ValueError, match="needs a cause or a derive_root"):
        factory.make(Heartbeat, derive_from="beat", service="agents", instance="a1")
