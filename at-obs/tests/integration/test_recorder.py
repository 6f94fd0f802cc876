"""The recorder over a real nats-server and a real uvicorn server, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from tests.conftest import SESSION
from tests.paper_stack import recorded_session

from at_core import subjects
from at_core.events import SignalEvent
from at_core.metrics import MetricCatalog
from at_core.runtime.bus import EventBus
from at_core.testing import NatsServer, free_port
from at_obs.config import ObsSettings
from at_obs.main import create_app

pytestmark = pytest.mark.integration


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Await a condition on a running server, with a deadline (HTTP state has no message to await)."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        await asyncio.sleep(0.05)


@asynccontextmanager
async def recorder(settings: ObsSettings) -> AsyncIterator[httpx.AsyncClient]:
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=settings.port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.port}")

    async def ready() -> bool:
        try:
            return (await client.get("/readyz")).status_code == 200
        except httpx.TransportError:
            return False

    try:
        await eventually(ready)
        yield client
    finally:
        await client.aclose()
        server.should_exit = True
        await task


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, nats_server: NatsServer, tmp_path: Path) -> ObsSettings:
    extra = {"audit_postgres_url": request.getfixturevalue("postgres_url")} if request.param == "postgres" else {}
    return ObsSettings(
        nats_url=nats_server.url,
        port=free_port(),
        audit_db_path=str(tmp_path / "audit.sqlite3"),
        jetstream_poll_s=0.1,
        **extra,
    )


async def _publish(url: str, events: list) -> None:
    bus = await EventBus.connect(url, service="test", metrics=MetricCatalog("test").build())
    for event in events:
        await bus.publish(event)
    await bus.close()


async def _head(client: httpx.AsyncClient) -> int:
    return (await client.get("/readyz")).json()["head_seq"]


async def test_the_recorder_keeps_a_whole_session_and_tells_one_alerts_story_in_causal_order(
    settings: ObsSettings,
) -> None:
    session = recorded_session()
    async with recorder(settings) as client:
        await _publish(settings.nats_url, session)

        async def all_recorded() -> bool:
            return await _head(client) == len(session)

        await eventually(all_recorded)
        signal = next(e for e in session if isinstance(e, SignalEvent))
        story = (await client.get("/audit", params={"correlation_id": signal.correlation_id})).json()
        assert [r["event_type"] for r in story] == [
            "signal",
            "agent_analysis",
            "trade_proposal",
            "risk_decision",
            "order_submitted",
            "order_accepted",
            "fill",
            "order_filled",
            "position",
            "account_state",
        ]
        seen: set[str] = set()
        for record in story:
            assert record["causation_id"] is None or record["causation_id"] in seen, record["event_type"]
            seen.add(record["event_id"])
        verified = (await client.get("/audit/verify")).json()
        assert verified == {"ok": True, "head_seq": len(session), "head_hash": verified["head_hash"], "problems": []}
        assert (await client.get("/audit", params={"correlation_id": "nope"})).status_code == 404


async def test_the_recorder_exports_stream_sizes_and_its_own_consumer_lag(settings: ObsSettings) -> None:
    session = recorded_session()
    async with recorder(settings) as client:
        await _publish(settings.nats_url, session)

        signals = sum(1 for e in session if e.event_type == "signal")
        sizes = f'at_obs_jetstream_stream_messages{{stream="AT_SIGNALS"}} {float(signals)}'
        caught_up = 'at_obs_jetstream_consumer_pending{consumer="recorder-AT_EXECUTION",stream="AT_EXECUTION"} 0.0'

        async def lag_exported() -> bool:
            # Sizes and lag are sampled periodically: wait for a sample taken after the whole session
            # (a pending count of 0 alone is also true before AT_EXECUTION's first event).
            text = (await client.get("/metrics")).text
            return sizes in text and caught_up in text and await _head(client) == len(session)

        await eventually(lag_exported)
        text = (await client.get("/metrics")).text
        assert f"at_obs_audit_head_seq {float(len(session))}" in text
        assert "at_obs_audit_chain_ok 1.0" in text
        assert 'at_obs_audit_records_total{event_type="fill"} 4.0' in text


async def test_a_restarted_recorder_resumes_its_durables_and_records_nothing_twice(settings: ObsSettings) -> None:
    session = recorded_session()
    half = len(session) // 2
    async with recorder(settings) as client:
        await _publish(settings.nats_url, session[:half])

        async def first_half() -> bool:
            return await _head(client) == half

        await eventually(first_half)
    # Published while the recorder is down, and the first half again (JetStream dedup window aside,
    # the store refuses a second copy of an event id).
    await _publish(settings.nats_url, session[half:])
    async with recorder(settings) as client:

        async def everything() -> bool:
            return await _head(client) == len(session)

        await eventually(everything)
        assert (await client.get("/audit/verify")).json()["ok"] is True


async def test_a_store_that_refuses_writes_delays_the_log_and_leaves_no_gap(
    settings: ObsSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from at_obs.adapters.postgres_store import PostgresAuditStore
    from at_obs.adapters.sqlite_store import SqliteAuditStore
    from at_obs.errors import AuditStoreError

    refusals: list[int] = []
    for cls in (SqliteAuditStore, PostgresAuditStore):
        real = cls.append_many

        def refusing(self, items, real=real):  # type: ignore[no-untyped-def]
            if len(refusals) < 3:  # the disk is full for the first three batches
                refusals.append(len(items))
                raise AuditStoreError(self.location, "database or disk is full")
            return real(self, items)

        monkeypatch.setattr(cls, "append_many", refusing)
    session = recorded_session()
    async with recorder(settings) as client:
        await _publish(settings.nats_url, session)

        async def everything() -> bool:
            return await _head(client) == len(session)

        await eventually(everything, timeout=30)
        assert len(refusals) == 3 and (await client.get("/audit/verify")).json()["ok"] is True
        metrics = (await client.get("/metrics")).text
        assert "at_obs_audit_append_errors_total 3.0" in metrics
    bus = await EventBus.connect(settings.nats_url, service="test", metrics=MetricCatalog("test").build())
    for spec in subjects.STREAMS:  # and it would have gone on retrying: the durables never give up
        info = await bus.js.consumer_info(spec.name, f"recorder-{spec.name}")
        assert info.config.max_deliver == -1
    await bus.close()


def test_the_committed_session_fixture_is_what_the_paper_stack_records() -> None:
    from at_obs.domain.replay import write_jsonl

    assert SESSION.read_text() == write_jsonl(recorded_session()), "run: python -m tests.paper_stack"


def test_durable_names_are_one_per_stream() -> None:
    from at_obs.consumers import durable_name

    names = {durable_name(ObsSettings(), s) for s in subjects.STREAMS}
    assert names == {f"recorder-{s.name}" for s in subjects.STREAMS}


async def test_an_event_forged_on_a_subject_it_may_not_come_from_is_recorded_and_flagged_by_verify(
    settings: ObsSettings,
) -> None:
    from at_core.serialization import encode_event
    from at_core.testing import example_events
    from at_obs.cli.verify import main as verify_main

    fill, proposal = example_events()["fill"], example_events()["trade_proposal"]
    forged_on = subjects.subject_for(proposal)
    async with recorder(settings) as client:
        bus = await EventBus.connect(settings.nats_url, service="test", metrics=MetricCatalog("test").build())
        await bus.js.publish(forged_on, encode_event(fill))  # a "fill" on a proposal subject
        await bus.close()

        async def recorded() -> bool:
            return await _head(client) == 1

        await eventually(recorded)
        story = (await client.get("/audit", params={"correlation_id": fill.correlation_id})).json()
        assert [(r["event_type"], r["subject"]) for r in story] == [("fill", forged_on)]
    pg = settings.audit_postgres_url
    location = pg.get_secret_value() if pg is not None else settings.audit_db_path
    assert verify_main([location]) == 1  # the chain is intact, the forged record is reported


async def test_a_broker_mismatch_is_recorded_on_its_subject_and_verifies(settings: ObsSettings) -> None:
    from at_core.testing import example_events

    mismatch = example_events()["broker_mismatch"]
    async with recorder(settings) as client:
        await _publish(settings.nats_url, [mismatch])

        async def recorded() -> bool:
            return await _head(client) == 1

        await eventually(recorded)
        story = (await client.get("/audit", params={"correlation_id": mismatch.correlation_id})).json()
        assert [(r["event_type"], r["subject"]) for r in story] == [
            ("broker_mismatch", subjects.broker_mismatch(mismatch.account_id, "topstepx"))
        ]
        verified = (await client.get("/audit/verify")).json()
        assert verified["ok"] and verified["problems"] == [], "at.state.<account>.broker.<venue> is its family"


async def test_events_published_one_by_one_within_the_fetch_linger_share_a_transaction_per_stream(
    settings: ObsSettings,
) -> None:
    session = recorded_session()  # ten events on several streams, each publish acked before the next
    lingering = settings.model_copy(update={"fetch_linger_s": 1.0})
    async with recorder(lingering) as client:
        await _publish(settings.nats_url, session)

        async def all_recorded() -> bool:
            return await _head(client) == len(session)

        await eventually(all_recorded)
        metrics = (await client.get("/metrics")).text
        line = next(x for x in metrics.splitlines() if x.startswith("at_obs_audit_append_seconds_count"))
        assert int(float(line.split()[-1])) <= len(subjects.STREAMS) < len(session)
        assert (await client.get("/audit/verify")).json()["ok"]
