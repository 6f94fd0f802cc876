"""A durable local outbox (SQLite, WAL) for events NATS could not acknowledge yet.

``put`` commits before the gateway answers 202, so a ``kill -9`` after the answer loses
nothing; ``drain`` publishes in insertion order and deletes each row only once JetStream
acknowledged it, with the row's ``Nats-Msg-Id`` (the event id, or for an alert's signal the id
derived from the alert), so a crash between publish and delete, or the same alert stored by
another replica meanwhile, is de-duplicated by JetStream.

Each row keeps its ordering lane (``domain/lanes.py``); the lanes queued are counted in memory,
so "must this event wait behind the outbox?" costs no query. A file from before the ``lane``
column is migrated in place: its rows get no lane (NULL), the conservative barrier, and drain
as before, in order.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from at_gateway.domain.lanes import Lane, QueuedLanes, lane_from_text, lane_text


class Outbox:
    """Events in insertion order, keyed by event id (a second ``put`` of the same id is a no-op),
    each with its ordering lane."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT UNIQUE, data BLOB NOT NULL)"
        )
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(outbox)")}
        if "msg_id" not in columns:
            self._db.execute("ALTER TABLE outbox ADD COLUMN msg_id TEXT")  # an outbox from before the column
        if "lane" not in columns:
            # An outbox from before lanes: its rows get NULL, no lane, which holds back every later event.
            self._db.execute("ALTER TABLE outbox ADD COLUMN lane TEXT")
        # Dedup claims made while the shared KV record could not be written (NATS down or slow):
        # kept here, on disk, so a restarted gateway still answers the repeat as a duplicate.
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, event_id TEXT NOT NULL,"
            " expires_ns INTEGER NOT NULL, shared INTEGER NOT NULL DEFAULT 0)"
        )
        # Kept in memory: the hot path asks "is anything of this lane waiting?" on every publish.
        self._lanes = QueuedLanes(
            (lane_from_text(text), n) for text, n in self._db.execute("SELECT lane, COUNT(*) FROM outbox GROUP BY lane")
        )
        # Likewise "is any claim kept?" (nearly always no: claims are made only while NATS is out of reach).
        self._claims = int(self._db.execute("SELECT COUNT(*) FROM claims").fetchone()[0])

    def put(self, event_id: str, data: bytes, msg_id: str | None = None, lane: Lane = None) -> None:
        """Keep an event; ``msg_id`` is its ``Nats-Msg-Id`` when it is not the event id; ``lane`` its
        ordering lane (None: none, it holds back everything after it)."""
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO outbox (event_id, data, msg_id, lane) VALUES (?, ?, ?, ?)",
                (event_id, data, msg_id, lane_text(lane)),
            )
            if cur.rowcount:
                self._lanes.add(lane)

    def peek(self, limit: int = 100) -> list[tuple[int, str, bytes, str | None]]:
        """The oldest events: sequence, event id, bytes and ``Nats-Msg-Id`` (None: the event id)."""
        with self._lock:
            return list(
                self._db.execute("SELECT seq, event_id, data, msg_id FROM outbox ORDER BY seq LIMIT ?", (limit,))
            )

    def delete(self, seq: int) -> None:
        with self._lock:
            for (text,) in self._db.execute("DELETE FROM outbox WHERE seq = ? RETURNING lane", (seq,)).fetchall():
                self._lanes.remove(lane_from_text(text))

    def holds_back(self, lane: Lane) -> bool:
        """An event of ``lane`` must queue here, behind an earlier event it may depend on."""
        return self._lanes.holds_back(lane)

    def why(self, lane: Lane) -> str:
        """Why an event of ``lane`` is held back (``behind_lane`` or ``behind_all``): see QueuedLanes."""
        return self._lanes.why(lane)

    def lanes(self) -> int:
        """How many ordering lanes have events waiting (those of no lane counting as one)."""
        return self._lanes.lanes()

    def claim(self, key: str, event_id: str, now_ns: int, expires_ns: int) -> str:
        """Record ``key`` for ``event_id`` unless an unexpired claim holds it; returns the holder's event id."""
        with self._lock:
            row = self._db.execute("SELECT event_id, expires_ns FROM claims WHERE key = ?", (key,)).fetchone()
            if row is not None and row[1] > now_ns:
                return str(row[0])
            self._db.execute(
                "INSERT OR REPLACE INTO claims (key, event_id, expires_ns) VALUES (?, ?, ?)",
                (key, event_id, expires_ns),
            )
            self._claims += row is None
            return event_id

    def unshared_claims(self, now_ns: int, limit: int = 200) -> list[tuple[str, str]]:
        """Unexpired claims not yet copied into the shared KV bucket, oldest first."""
        with self._lock:
            return list(
                self._db.execute(
                    "SELECT key, event_id FROM claims WHERE shared = 0 AND expires_ns > ? ORDER BY rowid LIMIT ?",
                    (now_ns, limit),
                )
            )

    def unshared_count(self, now_ns: int) -> int:
        """How many unexpired claims are not yet copied into the shared KV bucket."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM claims WHERE shared = 0 AND expires_ns > ?", (now_ns,)
            ).fetchone()
            return int(row[0])

    def mark_shared(self, key: str) -> None:
        with self._lock:
            self._db.execute("UPDATE claims SET shared = 1 WHERE key = ?", (key,))

    def claimed(self, key: str, now_ns: int) -> str | None:
        """The event id an unexpired local claim holds for ``key``."""
        if not self._claims:
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT event_id FROM claims WHERE key = ? AND expires_ns > ?", (key, now_ns)
            ).fetchone()
        return str(row[0]) if row else None

    def unclaim(self, key: str) -> None:
        with self._lock:
            self._claims -= self._db.execute("DELETE FROM claims WHERE key = ?", (key,)).rowcount

    def prune_claims(self, now_ns: int) -> int:
        with self._lock:
            pruned = self._db.execute("DELETE FROM claims WHERE expires_ns <= ?", (now_ns,)).rowcount
            self._claims -= pruned
            return pruned

    def depth(self) -> int:
        """Events waiting (this process is the outbox's only writer)."""
        return len(self._lanes)

    def close(self) -> None:
        with self._lock:
            self._db.close()
