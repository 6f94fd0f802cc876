"""The recorder and at-replay over a real nats-server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import nats
import pytest
import uvicorn
from typer.testing import CliRunner

from at_core import subjects
from at_core.events import AgentAnalysisEvent, Event, SignalEvent
from at_core.metrics import MetricCatalog
from at_core.runtime.bus import EventBus
from at_core.serialization import decode_event, encode_event
from at_core.testing import NatsServer, all_examples, free_port
from at_obs.cli.replay import app as replay_app
from at_obs.config import ObsSettings
from at_obs.domain.replay import output_hash, read_jsonl, write_jsonl
from at_obs.main import create_app

pytestmark = pytest.mark.integration


async def test_the_recorder_keeps_every_event_and_tells_one_alerts_story(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    port = free_port()
    settings = ObsSettings(
        nats_url=nats_server.url, port=port, audit_db_path=str(tmp_path / "audit.sqlite3"), jetstream_poll_s=0.2
    )
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}")
    for _ in range(200):
        try:
            if (await client.get("/readyz")).status_code == 200:
                break
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.05)
    bus = await EventBus.connect(nats_server.url, service="test", metrics=MetricCatalog("test").build())
    stored = [e for e in all_examples() if subjects.stream_for_subject(subjects.subject_for(e))]
    for event in stored:
        await bus.publish(event)
    for _ in range(200):
        if (await client.get("/readyz")).json()["head_seq"] == len(stored):
            break
        await asyncio.sleep(0.05)
    signal = all_examples()[0]
    story = (await client.get("/audit", params={"correlation_id": signal.correlation_id})).json()
    assert story[0]["event"]["event_type"] == "signal" and any(r["event_type"] == "fill" for r in story)
    seen: set[str] = set()
    for record in story:  # causal order: every event after the event that caused it
        assert record["causation_id"] is None or record["causation_id"] in seen, record["event_type"]
        seen.add(record["event_id"])
    assert (await client.get("/audit/verify")).json()["ok"] is True
    assert (await client.get("/audit", params={"correlation_id": "nope"})).status_code == 404
    metrics = (await client.get("/metrics")).text
    assert "at_obs_audit_records_total" in metrics and "at_obs_jetstream_stream_messages" in metrics
    await bus.close()
    server.should_exit = True
    await task
    await client.aclose()


async def _responder(url: str) -> tuple[nats.aio.client.Client, asyncio.Task | None]:
    """A stand-in for the agents service in replay mode: one derived analysis per signal."""
    from at_core.clock import ManualClock
    from at_core.events import EventFactory
    from at_core.ids import IdGenerator

    nc = await nats.connect(url)
    js = nc.jetstream()
    clock = ManualClock()
    factory = EventFactory("agents", clock, IdGenerator(clock))

    async def on(msg) -> None:
        event = decode_event(msg.data)
        if isinstance(event, SignalEvent):
            clock.advance_to(event.ts_event)
            out = factory.make(
                AgentAnalysisEvent,
                cause=event,
                derive_from="analysis:echo",
                agent_id="echo",
                agent_kind="rule",
                account_id=event.account_id,
                strategy_id=event.strategy_id,
                instrument_id=event.instrument_id,
                trigger_event_id=event.event_id,
                stance="long",
                conviction="0.5",
            )
            await js.publish(subjects.subject_for(out), encode_event(out), headers={"Nats-Msg-Id": out.event_id})

    await nc.subscribe(subjects.SIGNALS, cb=on)
    return nc, None


def _recording(tmp_path: Path, outputs: list[Event]) -> Path:
    inputs = [e for e in all_examples() if e.event_type in ("signal", "market_data")]
    path = tmp_path / "session.jsonl"
    path.write_text(write_jsonl(inputs + outputs))
    return path


async def _replay_once(url: str, recording: Path, tmp_path: Path, verify: bool, name: str) -> tuple[int, str]:
    server_nc, _ = await _responder(url)
    bus = await EventBus.connect(url, service="obs", metrics=MetricCatalog("obs").build())
    await bus.ensure_streams()
    manifest = tmp_path / f"{name}.json"
    args = ["--nats", url, "--manifest", str(manifest), "--settle", "0.2", "--report", str(tmp_path / f"{name}.html")]
    result = await asyncio.to_thread(
        CliRunner().invoke, replay_app, [str(recording), *args, *(["--verify"] if verify else [])]
    )
    await server_nc.close()
    await bus.close()
    import json

    return result.exit_code, json.loads(manifest.read_text())["output_sha256"] if manifest.exists() else result.output


async def test_replay_three_times_gives_one_hash_and_verify_passes_against_the_recording(tmp_path: Path) -> None:
    hashes = []
    first_outputs: list[Event] = []
    for i in range(3):
        with NatsServer() as server:  # a fresh stack each time, as a replay would be
            code, digest = await _replay_once(
                server.url, _recording(tmp_path, first_outputs), tmp_path, verify=i > 0, name=f"run{i}"
            )
            assert code == 0, digest
            hashes.append(digest)
            if i == 0:
                nc = await nats.connect(server.url)
                first_outputs = []
                info = await nc.jetstream().stream_info("AT_DECISIONS")
                for seq in range(1, info.state.last_seq + 1):
                    msg = await nc.jetstream().get_msg("AT_DECISIONS", seq)
                    first_outputs.append(decode_event(msg.data))
                await nc.close()
    assert len(set(hashes)) == 1
    assert (tmp_path / "run2.html").read_text().startswith("<!doctype html>")
    assert output_hash(read_jsonl(_recording(tmp_path, first_outputs).read_text())) == hashes[0]


async def test_verify_fails_when_the_outputs_differ_from_the_recording(tmp_path: Path) -> None:
    bogus = all_examples()[5]  # an analysis no replay will produce
    with NatsServer() as server:
        code, _ = await _replay_once(server.url, _recording(tmp_path, [bogus]), tmp_path, verify=True, name="bad")
    assert code == 1
