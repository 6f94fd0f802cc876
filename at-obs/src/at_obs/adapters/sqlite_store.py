"""The audit log in SQLite (WAL): the default store, one file, no server."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import astuple
from pathlib import Path

from at_core.events import Event
from at_obs.adapters.audit_store import COLUMNS, AppendsOne, chain_batch, row_to_record
from at_obs.domain.chain import AuditRecord, ChainHead
from at_obs.errors import AuditStoreError

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY,
  event_id TEXT NOT NULL UNIQUE,
  event_type TEXT NOT NULL,
  correlation_id TEXT NOT NULL,
  causation_id TEXT,
  subject TEXT NOT NULL,
  ts_event INTEGER NOT NULL,
  payload BLOB NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_correlation ON audit (correlation_id, seq);
CREATE TABLE IF NOT EXISTS audit_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL
);
INSERT OR IGNORE INTO audit_head VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
"""


#: The ``synchronous`` pragmas allowed: FULL syncs every commit, NORMAL (in WAL) only at checkpoints.
SYNCHRONOUS = ("FULL", "NORMAL")


class SqliteAuditStore(AppendsOne):
    """Append-only, hash-chained audit log in one SQLite file.

    Every append runs in a ``BEGIN IMMEDIATE`` transaction that reads the head from the
    database, so two processes writing the same file still build one chain.
    """

    def __init__(self, path: str | Path, *, synchronous: str = "FULL") -> None:
        if synchronous not in SYNCHRONOUS:
            raise AuditStoreError(
                str(path), f"synchronous must be one of {', '.join(SYNCHRONOUS)}, not {synchronous!r}"
            )
        self.path = Path(path)
        self.location = str(self.path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")  # checked against SYNCHRONOUS above
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(audit)")}
            if columns and "causation_id" not in columns:
                raise AuditStoreError(self.location, "written by an older recorder (no causation_id): move it aside")
            self._db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise AuditStoreError(self.location, str(exc)) from exc

    def append_many(self, items: Sequence[tuple[Event, str]]) -> list[AuditRecord]:
        """See :meth:`AuditStore.append_many`."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    records = self._append_in_transaction(items)
                    self._db.execute("COMMIT")
                    return records
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                first = items[0][0].event_id if items else "-"
                raise AuditStoreError(self.location, f"append of {len(items)} from {first} failed: {exc}") from exc

    def _append_in_transaction(self, items: Sequence[tuple[Event, str]]) -> list[AuditRecord]:
        seq, last = self._db.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        ids = [event.event_id for event, _ in items]
        marks = ",".join("?" * len(ids))
        known = {r[0] for r in self._db.execute(f"SELECT event_id FROM audit WHERE event_id IN ({marks})", ids)}  # noqa: S608
        records = chain_batch(ChainHead(seq, last), items, known)
        if records:
            self._db.executemany(
                f"INSERT INTO audit ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608 - constant
                [astuple(r) for r in records],
            )
            self._db.execute(
                "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (records[-1].seq, records[-1].hash)
            )
        return records

    def iter_records(self, batch: int = 1000) -> Iterator[AuditRecord]:
        after = None
        while True:
            with self._lock:
                rows = self._db.execute(
                    f"SELECT {COLUMNS} FROM audit WHERE (? IS NULL OR seq > ?) ORDER BY seq LIMIT ?",  # noqa: S608
                    (after, after, batch),
                ).fetchall()
            if not rows:
                return
            for row in rows:
                yield row_to_record(row)
            after = rows[-1][0]

    def by_correlation(self, correlation_id: str) -> list[AuditRecord]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {COLUMNS} FROM audit WHERE correlation_id = ? ORDER BY seq",  # noqa: S608 - constant
                (correlation_id,),
            ).fetchall()
        return [row_to_record(r) for r in rows]

    def head(self) -> ChainHead:
        with self._lock:
            seq, digest = self._db.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        return ChainHead(int(seq), digest)

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM audit").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
