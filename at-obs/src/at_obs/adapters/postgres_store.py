"""The audit log in PostgreSQL (psycopg 3), for a recorder that must outlive its disk.

Each append is one transaction that locks the head row (``SELECT ... FOR UPDATE``), so
several recorder replicas writing one database still build a single chain, in commit order.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import astuple

import psycopg

from at_core.events import Event
from at_obs.adapters.audit_store import COLUMNS, AppendsOne, chain_batch, row_to_record
from at_obs.domain.chain import AuditRecord, ChainHead
from at_obs.errors import AuditStoreError

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
  seq BIGINT PRIMARY KEY,
  event_id TEXT NOT NULL UNIQUE,
  event_type TEXT NOT NULL,
  correlation_id TEXT NOT NULL,
  causation_id TEXT,
  subject TEXT NOT NULL,
  ts_event BIGINT NOT NULL,
  payload BYTEA NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_correlation ON audit (correlation_id, seq);
CREATE TABLE IF NOT EXISTS audit_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq BIGINT NOT NULL,
  hash TEXT NOT NULL
);
INSERT INTO audit_head VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000') ON CONFLICT (id) DO NOTHING;
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit is append-only'; END $$;
CREATE OR REPLACE TRIGGER audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit
  FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
"""


def redact_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    head, sep, tail = url.rpartition("@")
    if not sep or "://" not in head:
        return url
    scheme, _, userinfo = head.partition("://")
    return f"{scheme}://{userinfo.split(':')[0]}:***@{tail}"


class PostgresAuditStore(AppendsOne):
    """Append-only, hash-chained audit log in PostgreSQL."""

    def __init__(self, url: str, connect_timeout_s: int = 5) -> None:
        self._url = url
        self.location = redact_url(url)
        self._timeout = connect_timeout_s
        self._lock = threading.Lock()
        self._conn = self._connect()
        try:
            with self._conn.transaction():
                # One schema creator at a time when several replicas start together.
                self._conn.execute("SELECT pg_advisory_xact_lock(hashtext('at_obs_audit_schema'))")
                self._conn.execute(SCHEMA)
        except psycopg.Error as exc:
            raise AuditStoreError(self.location, f"schema: {exc}") from exc

    def _connect(self) -> psycopg.Connection:
        try:
            return psycopg.connect(self._url, autocommit=True, connect_timeout=self._timeout)
        except psycopg.Error as exc:
            raise AuditStoreError(self.location, f"cannot connect: {exc}") from exc

    def _conn_ok(self) -> psycopg.Connection:
        if self._conn.closed or self._conn.broken:
            self._conn = self._connect()
        return self._conn

    def append_many(self, items: Sequence[tuple[Event, str]]) -> list[AuditRecord]:
        """See :meth:`AuditStore.append_many`."""
        with self._lock:
            try:
                conn = self._conn_ok()
                with conn.transaction():
                    seq, last = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE").fetchone()
                    ids = [event.event_id for event, _ in items]
                    known = {r[0] for r in conn.execute("SELECT event_id FROM audit WHERE event_id = ANY(%s)", (ids,))}
                    records = chain_batch(ChainHead(int(seq), last), items, known)
                    if records:
                        with conn.cursor() as cur:
                            cur.executemany(
                                f"INSERT INTO audit ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",  # noqa: S608
                                [astuple(r) for r in records],
                            )
                        conn.execute(
                            "UPDATE audit_head SET seq = %s, hash = %s WHERE id = 1",
                            (records[-1].seq, records[-1].hash),
                        )
                    return records
            except psycopg.Error as exc:
                first = items[0][0].event_id if items else "-"
                raise AuditStoreError(self.location, f"append of {len(items)} from {first} failed: {exc}") from exc

    def iter_records(self, batch: int = 1000) -> Iterator[AuditRecord]:
        after: int | None = None
        while True:
            with self._lock:
                rows = (
                    self._conn_ok()
                    .execute(
                        f"SELECT {COLUMNS} FROM audit WHERE (%s::bigint IS NULL OR seq > %s) ORDER BY seq LIMIT %s",  # noqa: S608
                        (after, after, batch),
                    )
                    .fetchall()
                )
            if not rows:
                return
            for row in rows:
                yield row_to_record(row)
            after = rows[-1][0]

    def by_correlation(self, correlation_id: str) -> list[AuditRecord]:
        with self._lock:
            rows = (
                self._conn_ok()
                .execute(
                    f"SELECT {COLUMNS} FROM audit WHERE correlation_id = %s ORDER BY seq",  # noqa: S608 - constant
                    (correlation_id,),
                )
                .fetchall()
            )
        return [row_to_record(r) for r in rows]

    def head(self) -> ChainHead:
        with self._lock:
            seq, digest = self._conn_ok().execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        return ChainHead(int(seq), digest)

    def count(self) -> int:
        with self._lock:
            return int(self._conn_ok().execute("SELECT COUNT(*) FROM audit").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
