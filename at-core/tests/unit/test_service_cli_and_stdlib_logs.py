"""Every service's command line (at_core.runtime.cli) and every log line JSON with ``service``:
the libraries' stdlib lines (uvicorn, MCP, nats-py) and lines of tasks started before logging was."""

from __future__ import annotations

import asyncio
import contextvars
import io
import json
import logging

import pytest
from pydantic import Field
from typer.testing import CliRunner

from at_core.runtime.cli import service_cli
from at_core.runtime.logging import bind_event_context, configure_logging, get_logger
from at_core.runtime.settings import ServiceSettings, service_config


def _lines(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def test_stdlib_lines_of_uvicorn_mcp_and_nats_are_json_with_service_and_ids() -> None:
    out = io.StringIO()
    plain = logging.getLogger("uvicorn.error")  # as uvicorn's own dictConfig leaves it: text, its own level
    plain.addHandler(logging.StreamHandler(io.StringIO()))
    plain.setLevel(logging.WARNING)
    configure_logging("agents", stream=out)
    logging.getLogger("uvicorn.error").info("Uvicorn running on %s", "http://127.0.0.1:8081")
    with bind_event_context(correlation_id="C7"):
        logging.getLogger("mcp.server.streamable_http").warning("session %s closed", "s1")
    logging.getLogger("nats.aio.client").error("nats: connection closed", extra={"attempt": 2})
    lines = _lines(out)
    assert [line["logger"] for line in lines] == ["uvicorn.error", "mcp.server.streamable_http", "nats.aio.client"]
    assert all(line["service"] == "agents" and line["ts"].endswith("Z") for line in lines)
    assert lines[0]["event"] == "Uvicorn running on http://127.0.0.1:8081" and lines[0]["level"] == "info"
    assert lines[1]["correlation_id"] == "C7" and lines[1]["level"] == "warning"
    assert lines[2]["attempt"] == 2


def test_a_task_started_before_logging_was_configured_logs_its_service() -> None:
    """uvicorn's request tasks copy the server's context, not the lifespan's: ``service`` must not
    depend on a context variable bound in another task."""
    out = io.StringIO()
    before = contextvars.copy_context()  # a context taken before configure_logging ran
    configure_logging("gateway", stream=out)
    before.run(lambda: get_logger().info("request_done"))
    assert _lines(out)[-1]["service"] == "gateway"

    async def in_a_task() -> None:
        get_logger().info("in_task")

    async def main() -> None:
        await asyncio.create_task(in_a_task(), context=before)

    asyncio.run(main())
    assert _lines(out)[-1] == {**_lines(out)[-1], "service": "gateway", "event": "in_task"}


class DemoSettings(ServiceSettings):
    model_config = service_config("AT_DEMO_")
    port: int = Field(default=8000, ge=1, le=65535)


def _cli(started: list[int]):  # type: ignore[no-untyped-def]
    def serve() -> None:
        started.append(DemoSettings().port)

    return service_cli("at-demo", "A demo service.", "AT_DEMO_", serve)


def test_the_default_command_and_run_start_the_service() -> None:
    started: list[int] = []
    runner = CliRunner()
    assert runner.invoke(_cli(started), []).exit_code == 0
    assert runner.invoke(_cli(started), ["run"]).exit_code == 0
    assert started == [8000, 8000]


def test_help_names_the_settings_and_starts_nothing() -> None:
    started: list[int] = []
    result = CliRunner().invoke(_cli(started), ["--help"])
    assert result.exit_code == 0 and started == []
    assert "AT_DEMO_" in result.output and ".env.example" in result.output and "run" in result.output


@pytest.mark.parametrize("args", [["--port", "1"], ["serve"], ["run", "--verbose"]])
def test_unknown_options_and_commands_are_refused(args: list[str]) -> None:
    started: list[int] = []
    result = CliRunner().invoke(_cli(started), args)
    assert result.exit_code == 2 and started == []


def test_a_setting_that_does_not_validate_is_named_without_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AT_DEMO_PORT", "99999")
    result = CliRunner().invoke(_cli([]), [])
    assert result.exit_code == 2
    assert "port: Input should be less than or equal to 65535" in result.output
    assert "99999" not in result.output and "Traceback" not in result.output
