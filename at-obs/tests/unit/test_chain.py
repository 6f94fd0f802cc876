"""The audit log is hash-chained: alteration, reordering and deletion are all found."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from at_core.testing import all_examples
from at_obs.adapters.audit_store import SqliteAuditStore
from at_obs.cli.verify import main as verify_main


def _store(tmp_path: Path) -> SqliteAuditStore:
    store = SqliteAuditStore(tmp_path / "audit.sqlite3")
    for event in all_examples():
        store.append(event, "at.test")
    return store


def test_an_intact_log_verifies(tmp_path: Path) -> None:
    store = _store(tmp_path)
    assert store.verify() == [] and store.count() == len(all_examples())
    assert verify_main([str(tmp_path / "audit.sqlite3")]) == 0


def test_appending_the_same_event_twice_records_it_once(tmp_path: Path) -> None:
    store = _store(tmp_path)
    assert store.append(all_examples()[0], "at.test") is None
    assert store.count() == len(all_examples())


def test_an_altered_record_is_found(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.close()
    db = sqlite3.connect(tmp_path / "audit.sqlite3")
    db.execute("UPDATE audit SET payload = replace(payload, '6012.5', '6010') WHERE seq = 13")
    db.commit()
    problems = SqliteAuditStore(tmp_path / "audit.sqlite3").verify()
    assert any("seq 13" in p and "altered" in p for p in problems)
    assert verify_main([str(tmp_path / "audit.sqlite3")]) == 1


def test_a_missing_record_is_found(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.close()
    db = sqlite3.connect(tmp_path / "audit.sqlite3")
    db.execute("DELETE FROM audit WHERE seq = 5")
    db.commit()
    problems = SqliteAuditStore(tmp_path / "audit.sqlite3").verify()
    assert any("seq 6: expected 5" in p for p in problems)


def test_reordered_records_are_found(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.close()
    db = sqlite3.connect(tmp_path / "audit.sqlite3")
    db.execute("UPDATE audit SET seq = -1 WHERE seq = 3")
    db.execute("UPDATE audit SET seq = 3 WHERE seq = 4")
    db.execute("UPDATE audit SET seq = 4 WHERE seq = -1")
    db.commit()
    assert any("prev_hash" in p for p in SqliteAuditStore(tmp_path / "audit.sqlite3").verify())


def test_the_audit_story_of_one_alert_is_in_order(tmp_path: Path) -> None:
    store = _store(tmp_path)
    signal = all_examples()[0]
    story = [r.event_type for r in store.by_correlation(signal.correlation_id)]
    assert story[0] == "signal" and "fill" in story and story.index("trade_proposal") < story.index("fill")


def test_a_story_is_told_in_causal_order_even_when_recorded_out_of_order() -> None:
    from at_obs.domain.chain import AuditRecord, causal_order

    def rec(seq: int, event_id: str) -> AuditRecord:
        return AuditRecord(seq, event_id, "x", "c", "s", 0, b"", "", "")

    records = [rec(1, "signal"), rec(2, "decision"), rec(3, "proposal"), rec(4, "fill")]
    causes = {"signal": None, "proposal": "signal", "decision": "proposal", "fill": "decision"}
    assert [r.event_id for r in causal_order(records, causes)] == ["signal", "proposal", "decision", "fill"]
