"""Committed JSON Schemas match the models, and breaking changes are caught."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from at_core import CONTRACTS_LINE, __version__
from at_core.errors import SchemaCompatibilityError
from at_core.schema_tools import check_compatible, compatibility_problems, drift, generate, released_path

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def test_version_is_in_the_0_1_line() -> None:
    assert __version__.startswith("0.1.") and CONTRACTS_LINE == "0.1"


def test_committed_schemas_match_the_models() -> None:
    assert drift(SCHEMAS) == [], "run: make schemas"


def test_models_are_compatible_with_the_released_snapshot() -> None:
    released = json.loads(released_path(SCHEMAS).read_text())
    assert compatibility_problems(released, generate()) == []


@pytest.fixture
def current() -> dict:
    return generate()


def test_removing_a_field_is_breaking(current: dict) -> None:
    new = copy.deepcopy(current)
    del new["signal"]["properties"]["alert_id"]
    assert "signal.alert_id: field removed" in compatibility_problems(current, new)


def test_a_new_required_field_is_breaking_but_a_new_optional_one_is_not(current: dict) -> None:
    new = copy.deepcopy(current)
    new["fill"]["properties"]["venue_fee_tier"] = {"type": "string"}
    assert compatibility_problems(current, new) == []
    new["fill"]["required"].append("venue_fee_tier")
    assert "fill.venue_fee_tier: new required field" in compatibility_problems(current, new)


def test_narrowing_a_type_or_enum_is_breaking(current: dict) -> None:
    new = copy.deepcopy(current)
    new["heartbeat"]["properties"]["sequence"] = {"type": "string"}
    problems = compatibility_problems(current, new)
    assert any(p.startswith("heartbeat.sequence: type integer") for p in problems)
    new = copy.deepcopy(current)
    enum_def = new["signal"]["$defs"]["SignalAction"]
    enum_def["enum"] = [v for v in enum_def["enum"] if v != "exit"]
    assert any("enum values removed" in p and "exit" in p for p in compatibility_problems(current, new))


def test_removing_an_event_type_is_breaking(current: dict) -> None:
    new = dict(current)
    del new["heartbeat"]
    with pytest.raises(SchemaCompatibilityError, match="heartbeat: event type removed"):
        check_compatible(current, new)
