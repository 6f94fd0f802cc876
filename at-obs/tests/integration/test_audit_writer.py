"""The audit writer's group commit, against the real stores: what it commits together, and when callers return."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from at_core.events import Event
from at_core.testing import all_examples
from at_obs.adapters.audit_store import AuditStore, open_audit_store, verify_store
from at_obs.adapters.audit_writer import AuditWriter
from at_obs.adapters.sqlite_store import SqliteAuditStore
from at_obs.domain.chain import AuditRecord
from at_obs.errors import AuditStoreError

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuditStore]:
    location = str(tmp_path / "audit.sqlite3") if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    opened = open_audit_store(location)
    yield opened
    opened.close()


class Transactions:
    """The writer's commit and error callbacks, recorded."""

    def __init__(self) -> None:
        self.committed: list[list[AuditRecord]] = []
        self.failed: list[Exception] = []

    def writer(self, store: AuditStore, linger_s: float) -> AuditWriter:
        return AuditWriter(
            store,
            linger_s=linger_s,
            on_commit=lambda records, _s: self.committed.append(records),
            on_error=self.failed.append,
        )


def _items(events: list[Event], subject: str = "at.test") -> list[tuple[Event, str]]:
    return [(e, subject) for e in events]


async def test_batches_handed_over_within_the_linger_are_one_transaction_each_caller_getting_its_own_records(
    store: AuditStore,
) -> None:
    events = all_examples()
    seen = Transactions()
    writer = seen.writer(store, linger_s=0.5)
    first, second = await asyncio.gather(writer.append(_items(events[:2])), writer.append(_items(events[2:5])))
    writer.stop()
    assert len(seen.committed) == 1 and len(seen.committed[0]) == 5
    assert [r.event_id for r in first] == [e.event_id for e in events[:2]]
    assert [r.event_id for r in second] == [e.event_id for e in events[2:5]]
    assert [r.seq for r in first + second] == [1, 2, 3, 4, 5]
    assert verify_store(store) == [] and store.head().seq == 5


async def test_an_event_in_two_batches_of_one_transaction_is_recorded_once_for_the_first(store: AuditStore) -> None:
    events = all_examples()
    store.append(events[0], "at.test")  # already recorded: a redelivery
    writer = Transactions().writer(store, linger_s=0.5)
    first, second = await asyncio.gather(
        writer.append(_items([events[0], events[1]])), writer.append(_items([events[1], events[2]]))
    )
    writer.stop()
    assert [r.event_id for r in first] == [events[1].event_id]
    assert [r.event_id for r in second] == [events[2].event_id]
    assert store.count() == 3 and verify_store(store) == []


async def test_a_failed_transaction_fails_every_batch_in_it_and_writes_nothing(store: AuditStore) -> None:
    events = all_examples()
    seen = Transactions()
    writer = seen.writer(store, linger_s=0.5)
    poisoned = events[2].model_copy(update={"correlation_id": None})  # NOT NULL in both schemas
    results = await asyncio.gather(
        writer.append(_items(events[:2])), writer.append(_items([poisoned])), return_exceptions=True
    )
    assert all(isinstance(r, AuditStoreError) for r in results)
    assert len(seen.failed) == 1 and seen.committed == []
    assert store.count() == 0
    assert [r.seq for r in await writer.append(_items(events[:2]))] == [1, 2]  # and it goes on writing
    writer.stop()


async def test_without_linger_a_caller_returns_after_its_own_commit(store: AuditStore) -> None:
    events = all_examples()
    seen = Transactions()
    writer = seen.writer(store, linger_s=0.0)
    for event in events[:3]:
        records = await writer.append(_items([event]))
        assert store.head().seq == records[0].seq  # committed before the caller went on
    writer.stop()
    assert len(seen.committed) == 3


async def test_stop_commits_what_was_handed_over_first(store: AuditStore) -> None:
    events = all_examples()
    writer = Transactions().writer(store, linger_s=0.2)
    pending = asyncio.ensure_future(writer.append(_items(events[:3])))
    await asyncio.sleep(0.01)
    await asyncio.to_thread(writer.stop)
    assert store.count() == 3
    assert len(await pending) == 3


async def test_a_failing_metrics_callback_neither_fails_the_commit_nor_stops_the_writer(store: AuditStore) -> None:
    def broken(_records: list[AuditRecord], _seconds: float) -> None:
        raise RuntimeError("a metric with the wrong labels")

    events = all_examples()
    writer = AuditWriter(store, on_commit=broken)
    assert len(await writer.append(_items(events[:1]))) == 1
    assert len(await writer.append(_items(events[1:2]))) == 1
    writer.stop()
    assert store.count() == 2


def test_sqlite_synchronous_is_set_as_asked_and_refused_when_unknown(tmp_path: Path) -> None:
    for name, level in (("FULL", 2), ("NORMAL", 1)):
        store = SqliteAuditStore(tmp_path / f"{name}.sqlite3", synchronous=name)
        assert store._db.execute("PRAGMA synchronous").fetchone()[0] == level
        store.close()
    with pytest.raises(AuditStoreError, match="synchronous"):
        SqliteAuditStore(tmp_path / "off.sqlite3", synchronous="OFF")
    assert not (tmp_path / "off.sqlite3").exists()


async def test_the_listener_hears_each_committed_transaction_once_in_seq_order_before_its_callers_return(
    store: AuditStore,
) -> None:
    events = all_examples()
    store.append(events[0], "at.test")  # a redelivery: committed before, not heard again
    heard: list[list[AuditRecord]] = []
    writer = AuditWriter(store, linger_s=0.5, on_recorded=heard.append)

    async def append(items: list[tuple[Event, str]]) -> list[AuditRecord]:
        records = await writer.append(items)
        assert heard and heard[-1][-1].seq >= max(r.seq for r in records)  # heard before the caller goes on
        return records

    await asyncio.gather(append(_items(events[:3])), append(_items(events[3:5])))
    writer.stop()
    assert len(heard) == 1  # one transaction, heard once although two callers waited for it
    assert [r.event_id for r in heard[0]] == [e.event_id for e in events[1:5]]
    assert [r.seq for r in heard[0]] == [2, 3, 4, 5]


async def test_a_failed_transaction_is_not_heard_and_a_failing_listener_leaves_no_caller_waiting(
    store: AuditStore,
) -> None:
    heard: list[list[AuditRecord]] = []

    def listener(records: list[AuditRecord]) -> None:
        heard.append(records)
        raise RuntimeError("a console bug")

    events = all_examples()
    writer = AuditWriter(store, on_recorded=listener)
    poisoned = events[0].model_copy(update={"correlation_id": None})  # NOT NULL in both schemas
    with pytest.raises(AuditStoreError):
        await writer.append(_items([poisoned]))
    assert heard == []
    assert len(await asyncio.wait_for(writer.append(_items(events[:2])), 10)) == 2
    writer.stop()
    assert [len(h) for h in heard] == [2] and store.count() == 2
