"""Both audit stores, against the real databases: SQLite and a throwaway PostgreSQL server."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from at_core import subjects
from at_core.testing import all_examples
from at_obs.adapters.audit_store import AuditStore, open_audit_store, verify_store
from at_obs.cli.verify import main as verify_main
from at_obs.errors import AuditStoreError

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "audit.sqlite3")
    return request.getfixturevalue("postgres_url")


def _filled(location: str) -> AuditStore:
    store = open_audit_store(location)
    for event in all_examples():
        store.append(event, subjects.subject_for(event))  # each on its own subject: nothing misrouted
    return store


def _tamper(location: str, *statements: str) -> None:
    """What an operator with raw database access could do, append-only triggers disabled first."""
    if location.startswith("postgresql://"):
        with psycopg.connect(location, autocommit=True) as conn:
            conn.execute("ALTER TABLE audit DISABLE TRIGGER audit_append_only")
            for sql in statements:
                conn.execute(sql)
    else:
        db = sqlite3.connect(location)
        db.execute("DROP TRIGGER audit_no_update")
        db.execute("DROP TRIGGER audit_no_delete")
        for sql in statements:
            db.execute(sql)
        db.commit()
        db.close()


def test_an_intact_log_verifies_and_the_cli_says_so(location: str) -> None:
    store = _filled(location)
    assert verify_store(store) == [] and store.count() == len(all_examples())
    assert store.head().seq == len(all_examples())
    store.close()
    assert verify_main([location]) == 0


def test_appending_the_same_event_twice_records_it_once(location: str) -> None:
    store = _filled(location)
    assert store.append(all_examples()[0], "at.test") is None
    assert store.count() == len(all_examples())
    store.close()


def test_a_batch_is_appended_in_order_skipping_what_is_already_recorded(location: str) -> None:
    events = all_examples()
    store = open_audit_store(location)
    store.append(events[1], "at.test")
    batch = [(events[0], "at.a"), (events[1], "at.b"), (events[2], "at.c"), (events[0], "at.a")]
    records = store.append_many(batch)
    assert [(r.event_id, r.subject, r.seq) for r in records] == [
        (events[0].event_id, "at.a", 2),
        (events[2].event_id, "at.c", 3),
    ]
    assert store.head().seq == 3 and store.head().hash == records[-1].hash
    assert store.append_many([(events[2], "at.c")]) == []
    assert verify_store(store) == [] and store.count() == 3
    store.close()


def test_a_batch_that_fails_writes_nothing(location: str) -> None:
    events = all_examples()
    store = open_audit_store(location)
    store.append(events[0], "at.test")
    poisoned = events[2].model_copy(update={"correlation_id": None})  # NOT NULL in both schemas
    with pytest.raises(AuditStoreError):
        store.append_many([(events[1], "at.test"), (poisoned, "at.test")])
    assert store.count() == 1 and store.head().seq == 1
    assert verify_store(store) == []
    store.close()


def test_the_database_refuses_updates_and_deletes(location: str) -> None:
    _filled(location).close()
    if location.startswith("postgresql://"):
        with psycopg.connect(location, autocommit=True) as conn:
            for sql in ("UPDATE audit SET ts_event = 0", "DELETE FROM audit", "TRUNCATE audit"):
                with pytest.raises(psycopg.Error, match="append-only"):
                    conn.execute(sql)
    else:
        db = sqlite3.connect(location)
        for sql in ("UPDATE audit SET ts_event = 0", "DELETE FROM audit"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                db.execute(sql)
        db.close()


def test_an_altered_record_is_found(location: str) -> None:
    _filled(location).close()
    _tamper(location, "UPDATE audit SET ts_event = ts_event + 1 WHERE seq = 13")
    store = open_audit_store(location)
    assert "seq 13: hash does not match its content (altered)" in verify_store(store)
    store.close()
    assert verify_main([location]) == 1


def test_a_record_missing_from_the_middle_is_found(location: str) -> None:
    _filled(location).close()
    _tamper(location, "DELETE FROM audit WHERE seq = 5")
    store = open_audit_store(location)
    assert "seq 6: expected 5 (missing or reordered record)" in verify_store(store)
    store.close()


def test_records_missing_at_the_end_are_found_by_the_head(location: str) -> None:
    _filled(location).close()
    _tamper(location, "DELETE FROM audit WHERE seq > 20")
    store = open_audit_store(location)
    assert any(p.startswith("head:") for p in verify_store(store))
    store.close()


def test_reordered_records_are_found(location: str) -> None:
    _filled(location).close()
    _tamper(
        location,
        "UPDATE audit SET seq = -1 WHERE seq = 3",
        "UPDATE audit SET seq = 3 WHERE seq = 4",
        "UPDATE audit SET seq = 4 WHERE seq = -1",
    )
    store = open_audit_store(location)
    assert any("prev_hash" in p for p in verify_store(store))
    store.close()


def test_appends_after_a_reopen_continue_the_same_chain(location: str) -> None:
    store = open_audit_store(location)
    events = all_examples()
    for event in events[:10]:
        store.append(event, "at.test")
    store.close()
    store = open_audit_store(location)
    for event in events[10:]:
        store.append(event, "at.test")
    assert verify_store(store) == [] and store.head().seq == len(events)
    store.close()


def test_the_story_of_one_alert_is_in_recorded_order(location: str) -> None:
    store = _filled(location)
    story = [r.event_type for r in store.by_correlation(all_examples()[0].correlation_id)]
    assert story[0] == "signal" and story.index("trade_proposal") < story.index("fill")
    store.close()


def test_an_unreachable_postgres_is_a_typed_error() -> None:
    with pytest.raises(AuditStoreError) as caught:
        open_audit_store("postgresql://at:secret@127.0.0.1:1/none")
    assert "secret" not in str(caught.value) and caught.value.location.endswith("@127.0.0.1:1/none")
