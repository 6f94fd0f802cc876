"""Log lines rendered through orjson carry the fields json's renderer wrote; module loggers follow
every (re)configuration."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from at_core.runtime.logging import configure_logging, get_logger, render_json

reference = structlog.processors.JSONRenderer(sort_keys=True)
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.decimals(allow_nan=False)
    | st.datetimes(timezones=st.none() | st.just(UTC)),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=500)
@given(st.dictionaries(st.text(), values, max_size=8))
def test_a_rendered_line_holds_exactly_the_fields_of_the_json_renderer(event_dict: dict[str, Any]) -> None:
    line = render_json(None, "info", dict(event_dict))
    assert line.isascii()  # any stream encoding can write it, as json's escaped lines
    assert json.loads(line) == json.loads(reference(None, "info", dict(event_dict)))


def test_objects_json_has_no_type_for_are_written_as_their_repr() -> None:
    line = json.loads(render_json(None, "info", {"d": Decimal("1.50"), "t": datetime(2026, 1, 2, tzinfo=UTC)}))
    assert line == {"d": "Decimal('1.50')", "t": "datetime.datetime(2026, 1, 2, 0, 0, tzinfo=datetime.timezone.utc)"}


def test_a_module_logger_writes_where_the_latest_configuration_says() -> None:
    log = get_logger("at_core.test")  # made at import time in a module, before any configuration
    first, second = io.StringIO(), io.StringIO()
    configure_logging("gateway", stream=first)
    log.info("one")
    configure_logging("agents", "WARNING", stream=second)
    log.info("filtered_out")
    log.warning("two")
    assert [json.loads(x)["event"] for x in first.getvalue().splitlines()] == ["one"]
    assert [(json.loads(x)["event"], json.loads(x)["service"]) for x in second.getvalue().splitlines()] == [
        ("two", "agents")
    ]


def test_a_module_logger_sees_processors_added_after_it_was_first_used() -> None:
    out = io.StringIO()
    configure_logging("gateway", stream=out)
    log = get_logger("at_core.test")
    log.info("before")

    def tag(_: Any, __: str, event_dict: Any) -> Any:
        event_dict["tagged"] = True
        return event_dict

    processors = list(structlog.get_config()["processors"])
    structlog.configure(processors=[*processors[:-1], tag, processors[-1]])  # as the gateway's redaction does
    log.info("after")
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [line.get("tagged") for line in lines] == [None, True]
