"""The audit store interface, shared row mapping, and :func:`open_audit_store` (SQLite or PostgreSQL).

Both stores are append-only (database triggers refuse UPDATE and DELETE), idempotent by
``event_id`` (a redelivery is not recorded twice), and keep a one-row head (last sequence and
hash) updated in the same transaction as each append, so a truncated tail is detectable.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from at_core.events import Event
from at_core.serialization import encode_event
from at_obs.domain.chain import AuditRecord, ChainHead, misrouted, seal, verify_chain

COLUMNS = "seq, event_id, event_type, correlation_id, causation_id, subject, ts_event, payload, prev_hash, hash"


class AuditStore(Protocol):
    """What the recorder, the API and the CLIs need from a store."""

    location: str

    def append(self, event: Event, subject: str) -> AuditRecord | None:
        """Append one event; None when it is already recorded."""
        ...

    def append_many(self, items: Sequence[tuple[Event, str]]) -> list[AuditRecord]:
        """Append events in order in one transaction; those already recorded are skipped.

        Returns:
            The records written (fewer than ``items`` when some were redeliveries).

        Raises:
            AuditStoreError: nothing of the batch was written.
        """
        ...

    def iter_records(self, batch: int = 1000) -> Iterator[AuditRecord]:
        """Every record in ``seq`` order, read in batches."""
        ...

    def by_correlation(self, correlation_id: str) -> list[AuditRecord]: ...

    def head(self) -> ChainHead: ...

    def count(self) -> int: ...

    def close(self) -> None: ...


class AppendsOne:
    """``append`` for a store that has ``append_many``."""

    def append_many(self, items: Sequence[tuple[Event, str]]) -> list[AuditRecord]:
        raise NotImplementedError

    def append(self, event: Event, subject: str) -> AuditRecord | None:
        """Append one event; None when it is already recorded (a redelivery)."""
        records = self.append_many([(event, subject)])
        return records[0] if records else None


def chain_batch(head: ChainHead, items: Sequence[tuple[Event, str]], known: set[str]) -> list[AuditRecord]:
    """The records that follow ``head`` for ``items`` in order, skipping ids in ``known`` or repeated."""
    seen = set(known)
    records: list[AuditRecord] = []
    for event, subject in items:
        if event.event_id in seen:
            continue  # a redelivery, or twice in this batch
        seen.add(event.event_id)
        record = seal(
            head,
            event_id=event.event_id,
            event_type=event.event_type,
            correlation_id=event.correlation_id,
            causation_id=event.causation_id,
            subject=subject,
            ts_event=event.ts_event,
            payload=encode_event(event),
        )
        records.append(record)
        head = ChainHead(record.seq, record.hash)
    return records


def verify_store(store: AuditStore) -> list[str]:
    """Recompute the whole chain and check it ends at the store's head."""
    return verify_chain(store.iter_records(), store.head())


def misrouted_in_store(store: AuditStore) -> list[str]:
    """The records flagged as misrouted (see :func:`at_obs.domain.chain.misrouted`)."""
    return misrouted(store.iter_records())


def row_to_record(row: tuple[Any, ...]) -> AuditRecord:
    seq, event_id, event_type, correlation_id, causation_id, subject, ts_event, payload, prev_hash, digest = row
    # A row edited by hand may come back as TEXT: verify it as bytes (and find it altered), never crash.
    if isinstance(payload, memoryview):
        payload = payload.tobytes()
    elif not isinstance(payload, bytes):
        payload = str(payload).encode()
    return AuditRecord(
        int(seq), event_id, event_type, correlation_id, causation_id, subject, int(ts_event), payload, prev_hash, digest
    )


def is_postgres_url(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://"))


def open_audit_store(location: str | Path, *, synchronous: str = "FULL") -> AuditStore:
    """A PostgreSQL store for a ``postgresql://`` URL, else a SQLite store at the path.

    ``synchronous`` is SQLite's pragma (``FULL`` or ``NORMAL``); PostgreSQL commits are always synced.

    Raises:
        AuditStoreError: the database cannot be opened or its schema created.
    """
    text = str(location)
    if is_postgres_url(text):
        from at_obs.adapters.postgres_store import PostgresAuditStore

        return PostgresAuditStore(text)
    from at_obs.adapters.sqlite_store import SqliteAuditStore

    return SqliteAuditStore(text.removeprefix("sqlite:///").removeprefix("sqlite:"), synchronous=synchronous)
