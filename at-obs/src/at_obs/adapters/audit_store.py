"""The append-only audit log in SQLite (WAL). One writer; appends are idempotent by event id."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from at_core.events import Event
from at_core.serialization import encode_event
from at_obs.domain.chain import GENESIS, AuditRecord, record_hash, verify_chain

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY,
  event_id TEXT NOT NULL UNIQUE,
  event_type TEXT NOT NULL,
  correlation_id TEXT NOT NULL,
  subject TEXT NOT NULL,
  ts_event INTEGER NOT NULL,
  payload BLOB NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_correlation ON audit (correlation_id, seq);
"""


class SqliteAuditStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        row = self._db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        self._seq, self._last = (row[0], row[1]) if row else (0, GENESIS)

    def append(self, event: Event, subject: str) -> AuditRecord | None:
        """Append one event; None when it is already recorded (a redelivery)."""
        payload = encode_event(event)
        with self._lock:
            if self._db.execute("SELECT 1 FROM audit WHERE event_id = ?", (event.event_id,)).fetchone():
                return None
            seq = self._seq + 1
            digest = record_hash(self._last, seq, payload)
            record = AuditRecord(
                seq,
                event.event_id,
                event.event_type,
                event.correlation_id,
                subject,
                event.ts_event,
                payload,
                self._last,
                digest,
            )
            self._db.execute(
                "INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    seq,
                    record.event_id,
                    record.event_type,
                    record.correlation_id,
                    subject,
                    record.ts_event,
                    payload,
                    record.prev_hash,
                    digest,
                ),
            )
            self._seq, self._last = seq, digest
            return record

    def by_correlation(self, correlation_id: str) -> list[AuditRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM audit WHERE correlation_id = ? ORDER BY seq", (correlation_id,)
            ).fetchall()
        return [_record(r) for r in rows]

    def all(self) -> list[AuditRecord]:
        with self._lock:
            return [_record(r) for r in self._db.execute("SELECT * FROM audit ORDER BY seq").fetchall()]

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM audit").fetchone()[0])

    def verify(self) -> list[str]:
        return verify_chain(self.all())

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _record(row: tuple) -> AuditRecord:
    # A row edited by hand may come back as TEXT: verify it as bytes (and find it altered), never crash.
    payload = row[6] if isinstance(row[6], bytes) else str(row[6]).encode()
    return AuditRecord(*row[:6], payload, *row[7:])
