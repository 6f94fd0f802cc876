"""``at-replay`` over real nats-servers, against the paper stack (a deterministic stand-in for the services).

Every replay runs in a fresh nats-server with fresh streams, as a replay of a real session would
run in a fresh stack. The recording is ``tests/fixtures/session.jsonl`` (what the paper stack
records for a morning on MES: trades, a max-position denial, a daily-loss halt), read from JSONL,
from the audit store (SQLite and PostgreSQL) and from JetStream.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from click.testing import Result
from tests import paper_stack
from tests.conftest import SESSION
from typer.testing import CliRunner

from at_core.events import AgentAnalysisEvent, Event, FillEvent, SignalEvent
from at_core.metrics import MetricCatalog
from at_core.runtime.bus import EventBus
from at_core.subjects import subject_for
from at_core.testing import NatsServer, free_port
from at_obs.adapters.audit_store import open_audit_store
from at_obs.cli.replay import app
from at_obs.domain.replay import output_hash, read_jsonl, split, write_jsonl

pytestmark = pytest.mark.integration

# No output of the paper stack comes later than the others of its input: a short quiet period
# after the expected outputs arrived is enough to catch extras, and keeps each replay ~1 s.
FAST = ("--settle", "0.05")


@asynccontextmanager
async def paper_stack_on_fresh_nats() -> AsyncIterator[str]:
    """A fresh nats-server with the at-core streams and the paper stack answering inputs: a fresh stack."""
    with NatsServer() as server:
        bus = await EventBus.connect(server.url, service="obs", metrics=MetricCatalog("obs").build())
        await bus.ensure_streams()
        stack = await paper_stack.serve(server.url)
        try:
            yield server.url
        finally:
            await stack.close()
            await bus.close()


async def at_replay(*args: object) -> Result:
    """The CLI as an operator runs it (in a thread: it runs its own event loop)."""
    return await asyncio.to_thread(CliRunner().invoke, app, [str(a) for a in args])


def recorded() -> list[Event]:
    return read_jsonl(SESSION.read_text())


def write_recording(path: Path, events: list[Event]) -> Path:
    path.write_text(write_jsonl(events))
    return path


def first(events: list[Event], kind: type) -> Event:
    return next(e for e in events if isinstance(e, kind))


async def test_a_recording_replayed_three_times_in_fresh_stacks_gives_one_output_hash_and_verifies(
    tmp_path: Path,
) -> None:
    manifests = []
    for run in range(3):
        async with paper_stack_on_fresh_nats() as url:
            manifest = tmp_path / f"run{run}.json"
            result = await at_replay("run", SESSION, "--nats", url, "--verify", "--manifest", manifest, *FAST)
        assert result.exit_code == 0, result.output
        assert "identical: 49 recorded outputs reproduced byte for byte" in result.output
        manifests.append(manifest.read_text())
    digests = {json.loads(m)["output_sha256"] for m in manifests}
    assert digests == {output_hash(recorded())}
    # nothing in a manifest depends on the wall clock or the machine: three runs, one manifest
    assert manifests[0] == manifests[1] == manifests[2]


async def test_the_manifest_holds_seed_code_version_config_hash_rule_profiles_and_output_hash(
    tmp_path: Path,
) -> None:
    config = tmp_path / "accounts.yaml"
    config.write_text("accounts: [topstep-50k-1]\n")
    async with paper_stack_on_fresh_nats() as url:
        result = await at_replay(
            "run", SESSION, "--nats", url, "--verify", "--seed", 42, "--config", config,
            "--manifest", tmp_path / "m.json", *FAST,
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "m.json").read_text())
    inputs, outputs = split(recorded())
    expected_config = hashlib.sha256(b"accounts.yaml\0" + hashlib.sha256(config.read_bytes()).digest()).hexdigest()
    assert manifest["seed"] == 42
    assert manifest["code_version"] not in ("", "unknown")  # git describe of this checkout
    assert manifest["config_sha256"] == expected_config
    assert manifest["rule_profiles"] == ["topstep_50k@2026-11-01"]
    assert manifest["output_sha256"] == output_hash(outputs)
    assert (manifest["inputs"], manifest["outputs"]) == (len(inputs), len(outputs)) == (17, 49)
    assert manifest["verify"] == {"recorded_outputs": 49, "differences": 0}
    assert manifest["recording"] == str(SESSION)


async def test_a_changed_output_makes_verify_exit_1_and_names_the_field_and_the_input_it_came_from(
    tmp_path: Path,
) -> None:
    events = recorded()
    fill = first(events, FillEvent)
    assert isinstance(fill, FillEvent)
    tampered = [fill.model_copy(update={"price": fill.price + 1}) if e is fill else e for e in events]
    signal_id = first(events, SignalEvent).event_id  # the first fill is the first signal's
    async with paper_stack_on_fresh_nats() as url:
        result = await at_replay(
            "run", write_recording(tmp_path / "s.jsonl", tampered), "--nats", url, "--verify", *FAST
        )
    assert result.exit_code == 1, result.output
    assert "DIFFERENT: 1 outputs differ from the recording" in result.output
    assert (
        f"changed: fill #0 under {signal_id} (trade_proposal/risk_decision/order_submitted/order_accepted/fill): price"
        in result.output
    )


async def test_an_output_the_replay_does_not_produce_is_reported_missing_with_exit_1(tmp_path: Path) -> None:
    events = recorded()
    analysis = first(events, AgentAnalysisEvent)
    ghost = analysis.model_copy(update={"event_id": "01M7Q5CQG0ZZZZZZZZZZZZZZZZ", "agent_id": "ghost"})
    async with paper_stack_on_fresh_nats() as url:
        # the driver waits up to --timeout for the ghost's input to cause one more output
        result = await at_replay(
            "run", write_recording(tmp_path / "s.jsonl", [*events, ghost]), "--nats", url, "--verify",
            "--timeout", 2, "--report", tmp_path / "r.html", *FAST,
        )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "DIFFERENT: 1 outputs differ from the recording" in result.output
    missing = f"under {analysis.causation_id} (agent_analysis): event {ghost.event_id}"
    assert f"missing: agent_analysis #0 {missing}" in result.output
    report = (tmp_path / "r.html").read_text()
    assert "1 differences from the recording" in report and missing in report


async def test_report_writes_an_html_page_with_the_equity_curve_drawdown_and_manifest(tmp_path: Path) -> None:
    async with paper_stack_on_fresh_nats() as url:
        result = await at_replay("run", SESSION, "--nats", url, "--verify", "--report", tmp_path / "r.html", *FAST)
    assert result.exit_code == 0, result.output
    html = (tmp_path / "r.html").read_text()
    assert html.startswith("<!doctype html>")
    assert "Identical to the recording" in html
    assert "topstep-50k-1: equity (top) and drawdown (bottom)" in html
    assert html.count("<polyline") == 2  # one equity curve, one drawdown curve
    # P&L and worst drawdown of the session (the paper stack's arithmetic), and the breach
    assert "<td>topstep-50k-1</td><td>-253.70</td><td>271.11</td>" in html
    assert "topstep-50k-1: halted (daily_loss_limit)" in html
    assert "max_position x1, trading_halted x1" in html
    assert output_hash(recorded()) in html  # the manifest is on the page


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_recording_read_from_the_audit_store_replays_identically(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    location = request.getfixturevalue("postgres_url") if backend == "postgres" else str(tmp_path / "audit.sqlite3")
    store = open_audit_store(location)
    for event in recorded():
        store.append(event, subject_for(event))
    store.close()
    capture = tmp_path / "replayed.jsonl"
    async with paper_stack_on_fresh_nats() as url:
        result = await at_replay("run", location, "--nats", url, "--verify", "--capture", capture, *FAST)
    assert result.exit_code == 0, result.output
    assert f"output sha256: {output_hash(recorded())}" in result.output
    # the capture holds exactly the replayed outputs; `diff` agrees with --verify offline
    assert output_hash(read_jsonl(capture.read_text())) == output_hash(recorded())
    offline = await at_replay("diff", SESSION, capture)
    assert offline.exit_code == 0, offline.output


async def test_a_recording_read_from_jetstream_replays_identically(tmp_path: Path) -> None:
    with NatsServer() as recording_server:
        bus = await EventBus.connect(recording_server.url, service="test", metrics=MetricCatalog("test").build())
        await bus.ensure_streams()
        for event in recorded():
            await bus.publish(event)
        await bus.close()
        async with paper_stack_on_fresh_nats() as url:
            result = await at_replay(
                "run", "jetstream:", "--source-nats", recording_server.url, "--nats", url, "--verify",
                "--manifest", tmp_path / "m.json", *FAST,
            )  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "m.json").read_text())
    assert (manifest["recording"], manifest["inputs"], manifest["outputs"]) == ("jetstream:", 17, 49)
    assert manifest["output_sha256"] == output_hash(recorded())


async def test_a_named_stream_that_does_not_exist_exits_2() -> None:
    with NatsServer() as server:
        result = await at_replay("run", "jetstream:AT_NOPE", "--source-nats", server.url, "--nats", server.url)
    assert result.exit_code == 2, result.output
    assert "recording jetstream:AT_NOPE: no such stream" in result.output


def _bad_recordings(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    outputs_only = write_recording(tmp_path / "outputs.jsonl", split(recorded())[1])
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text(SESSION.read_text().splitlines()[0] + "\n{not json\n")
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    return {
        "empty": ([str(empty)], "the recording holds no inputs"),
        "outputs only": ([str(outputs_only)], "the recording holds no inputs"),
        "not an event": ([str(garbage)], "line 2 is not an event"),
        "not text": ([str(binary)], "not UTF-8 text"),
        "no such file": ([str(tmp_path / "nope.jsonl")], "No such file or directory"),
        "no such audit store": (["sqlite:" + str(tmp_path / "nope.sqlite3")], "no such audit store file"),
        "jetstream without its server": (["jetstream:"], "needs --source-nats"),
        "an alert not in the recording": ([str(SESSION), "--correlation-id", "nope"], "no events with correlation"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "empty",
        "outputs only",
        "not an event",
        "not text",
        "no such file",
        "no such audit store",
        "jetstream without its server",
        "an alert not in the recording",
    ],
)
async def test_a_recording_that_cannot_be_replayed_exits_2_with_the_reason(case: str, tmp_path: Path) -> None:
    args, reason = _bad_recordings(tmp_path)[case]
    with NatsServer() as server:  # reachable: the refusal is about the recording
        result = await at_replay("run", *args, "--nats", server.url)
    assert result.exit_code == 2, result.output
    assert reason in result.output
    assert not (tmp_path / "nope.sqlite3").exists()  # reading a recording never creates one


async def test_a_stack_that_cannot_be_reached_exits_2_at_once() -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    result = await at_replay("run", SESSION, "--nats", url, "--verify")
    assert result.exit_code == 2, result.output
    assert f"cannot replay: cannot connect to NATS at {url}" in result.output


async def test_diff_compares_two_recordings_offline_by_lineage(tmp_path: Path) -> None:
    events = recorded()
    signal = first(events, SignalEvent)
    # arrival order does not matter: outputs are matched by the input that caused them
    shuffled = write_recording(tmp_path / "shuffled.jsonl", list(reversed(events)))
    fill = first(events, FillEvent)
    assert isinstance(fill, FillEvent)
    changed = write_recording(
        tmp_path / "changed.jsonl", [fill.model_copy(update={"fee": fill.fee * 2}) if e is fill else e for e in events]
    )
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")

    same = await at_replay("diff", SESSION, shuffled)
    different = await at_replay("diff", SESSION, changed)
    nothing = await at_replay("diff", empty, SESSION)
    unreadable = await at_replay("diff", SESSION, tmp_path)

    assert same.exit_code == 0 and "identical" in same.output
    assert different.exit_code == 1, different.output
    assert f"changed: fill #0 under {signal.event_id} (" in different.output
    assert different.output.rstrip().endswith("/fill): fee")
    assert nothing.exit_code == 2 and "holds no outputs" in nothing.output
    assert unreadable.exit_code == 2 and "cannot read" in unreadable.output
