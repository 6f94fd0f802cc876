"""Every service logs through at_core's setup; lines conform to docs/LOG_SPEC.md."""

from __future__ import annotations

import io
import json

import pytest

from at_core.runtime.logging import bind_event_context, configure_logging, get_logger

REQUIRED = {"ts", "level", "service", "event"}


@pytest.mark.parametrize("service", ["gateway", "agents", "exec_sim", "obs"])
def test_log_lines_carry_the_required_fields_and_the_correlation_id(service: str) -> None:
    out = io.StringIO()
    configure_logging(service, stream=out)
    with bind_event_context(event_id="01M7Q5CQG04TFF59TDWH9EDD1R", correlation_id="01M7Q5CQG04TFF59TDWH9EDD1R"):
        get_logger().info("event_consumed", event_type="signal", subject="at.signal.x")
    line = json.loads(out.getvalue().splitlines()[-1])
    assert set(line) >= REQUIRED
    assert line["service"] == service and line["correlation_id"] == "01M7Q5CQG04TFF59TDWH9EDD1R"
    assert line["level"] in {"debug", "info", "warning", "error", "critical"}
