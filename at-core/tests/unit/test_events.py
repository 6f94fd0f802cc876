"""Events: immutable, strict, canonical on the wire, decodable by type."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from at_core.errors import DecodeError
from at_core.events import EVENT_CLASSES, EVENT_REGISTRY, AgentAnalysisEvent, RiskDecisionEvent, SignalEvent
from at_core.serialization import canonical_decimal, decode_event, encode_event, stream_sha256
from at_core.subjects import subject_for
from at_core.testing import all_examples, example_events


def test_every_event_class_has_an_example() -> None:
    assert set(example_events()) == {cls.type_name() for cls in EVENT_CLASSES}


@pytest.mark.parametrize("event", all_examples(), ids=lambda e: e.event_type)
def test_every_example_round_trips_through_canonical_bytes(event) -> None:
    data = encode_event(event)
    assert decode_event(data) == event
    assert encode_event(decode_event(data)) == data


@pytest.mark.parametrize("event", all_examples(), ids=lambda e: e.event_type)
def test_every_example_has_a_subject(event) -> None:
    assert subject_for(event).startswith("at.")


def test_events_are_frozen() -> None:
    signal = example_events()["signal"]
    with pytest.raises(ValidationError):
        signal.quantity = Decimal(5)  # type: ignore[misc]


def test_unknown_fields_are_refused() -> None:
    raw = json.loads(encode_event(example_events()["signal"]))
    raw["surprise"] = 1
    with pytest.raises(DecodeError) as info:
        decode_event(json.dumps(raw))
    assert info.value.event_type == "signal"


def test_a_newer_minor_producer_may_add_optional_fields() -> None:
    raw = json.loads(encode_event(example_events()["signal"]))
    raw["schema_version"] = SignalEvent.SCHEMA_VERSION + 1
    raw["added_in_next_minor"] = "x"
    decoded = decode_event(json.dumps(raw))
    assert isinstance(decoded, SignalEvent) and decoded.schema_version == 2


@pytest.mark.parametrize(
    ("payload", "reason"),
    [(b"not json", "not JSON"), (b"[1]", "not a JSON object"), (b'{"event_type":"nope"}', "unknown event_type")],
)
def test_undecodable_bytes_raise_a_typed_error(payload: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode_event(payload)


def test_canonical_bytes_sort_keys_and_spell_decimals_once() -> None:
    data = encode_event(example_events()["fill"])
    text = data.decode()
    assert " " not in text.replace("operator pressed", "")
    assert list(json.loads(text)) == sorted(json.loads(text))
    assert canonical_decimal(Decimal("1.50")) == canonical_decimal(Decimal("1.5")) == "1.5"
    assert canonical_decimal(Decimal("1E+2")) == "100"
    assert canonical_decimal(Decimal("-0.00")) == "0"


def test_stream_hash_is_order_sensitive_and_reproducible() -> None:
    events = all_examples()
    assert stream_sha256(events) == stream_sha256(all_examples())
    assert stream_sha256(events) != stream_sha256(list(reversed(events)))


def test_registry_maps_every_type_to_its_class() -> None:
    for event_type, cls in EVENT_REGISTRY.items():
        assert cls.type_name() == event_type


def test_a_denial_needs_a_reason() -> None:
    approved = example_events()["risk_decision"]
    with pytest.raises(ValidationError, match="at least one reason"):
        RiskDecisionEvent.model_validate({**approved.model_dump(), "approved": False, "reasons": []})


def test_an_analysis_either_abstains_with_a_reason_or_states_a_view() -> None:
    view = example_events()["agent_analysis"]
    with pytest.raises(ValidationError, match="abstain_reason"):
        AgentAnalysisEvent.model_validate({**view.model_dump(), "abstained": True, "abstain_reason": None})
    with pytest.raises(ValidationError, match="stance and conviction"):
        AgentAnalysisEvent.model_validate({**view.model_dump(), "stance": None})


def test_example_chain_shares_one_correlation_id() -> None:
    ex = example_events()
    chain = [
        ex[t]
        for t in ("signal", "agent_analysis", "trade_proposal", "risk_decision", "order_submitted", "fill", "position")
    ]
    assert {e.correlation_id for e in chain} == {ex["signal"].event_id}
    assert ex["trade_proposal"].causation_id == ex["signal"].event_id
