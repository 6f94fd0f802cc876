"""at-replay's messages say what to do: a refused password names the admin's credentials (no
traceback), a replay into the stack that recorded the session says JetStream de-duplicated its
inputs, a wall-clock recording's differences say why, and a missing password file is one line."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tests import paper_stack
from tests.conftest import SESSION
from typer.testing import CliRunner

from at_core.metrics import MetricCatalog
from at_core.runtime.bus import EventBus
from at_core.testing import NatsServer
from at_obs.cli.replay import WALL_CLOCK_HINT, app, hint_for
from at_obs.domain.replay import Difference

pytestmark = pytest.mark.integration
FAST = ("--settle", "0.05")
USERS = 'authorization { users = [ { user: "admin", password: "right-password" } ] }\n'


def _replay(*args: object):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, [str(a) for a in args])


async def test_a_refused_password_names_the_admin_credentials_without_a_traceback(tmp_path: Path) -> None:
    with NatsServer(config=USERS) as server:
        result = await asyncio.to_thread(
            _replay, "run", SESSION, "--nats", server.url, "--user", "admin", "--password", "wrong", *FAST
        )
    assert result.exit_code == 2, result.output
    assert "authorization violation" in result.output and "--password-file var/up/admin.password" in result.output
    assert "Traceback" not in result.output and "nats: no servers" not in result.output.lower()


async def test_the_password_file_is_read_and_a_missing_one_is_named(tmp_path: Path) -> None:
    missing = await asyncio.to_thread(_replay, "run", SESSION, "--password-file", tmp_path / "nope", *FAST)
    assert missing.exit_code == 2 and "no password file at" in missing.output
    (tmp_path / "admin.password").write_text("right-password\n")
    with NatsServer(config=USERS) as server:
        bus = await EventBus.connect(
            server.url, service="obs", metrics=MetricCatalog("obs").build(), user="admin", password="right-password"
        )
        await bus.ensure_streams()
        try:
            # the password from the file (user admin by default); no stack answers: each input
            # waits its --timeout, and the replay ends with its summary (exit 0 without --verify)
            result = await asyncio.to_thread(
                _replay,
                "run",
                SESSION,
                "--nats",
                server.url,
                "--password-file",
                tmp_path / "admin.password",
                "--timeout",
                "0.2",
                "--no-quiesce",
                *FAST,
            )
        finally:
            await bus.close()
    assert result.exit_code == 0 and "output sha256" in result.output, result.output


async def test_replaying_into_the_stack_that_recorded_it_says_the_inputs_were_deduplicated() -> None:
    with NatsServer() as server:
        bus = await EventBus.connect(server.url, service="obs", metrics=MetricCatalog("obs").build())
        await bus.ensure_streams()
        stack = await paper_stack.serve(server.url)
        try:
            first = await asyncio.to_thread(_replay, "run", SESSION, "--nats", server.url, *FAST)
            again = await asyncio.to_thread(_replay, "run", SESSION, "--nats", server.url, "--verify", *FAST)
        finally:
            await stack.close()
            await bus.close()
    assert first.exit_code == 0, first.output
    assert "de-duplicated" not in first.output
    assert again.exit_code == 1, again.output
    assert "inputs were already in this stack's streams" in again.output and "de-duplicated" in again.output
    assert "fresh stack started in replay mode" in again.output


def test_differences_only_in_timestamps_are_explained_as_a_wall_clock_recording() -> None:
    wall = [Difference("changed", ("s1", "signal>fill", 0), "fill", ("event_id", "ts_event", "ts_init"))]
    assert hint_for(wall) == WALL_CLOCK_HINT
    price = [Difference("changed", ("s1", "signal>fill", 0), "fill", ("price",))]
    assert hint_for(price) is None
    assert hint_for([Difference("missing", ("s1", "signal>fill", 0), "fill")]) is None
