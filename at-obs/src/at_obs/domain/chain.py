"""The audit record and its hash chain: each record holds the SHA-256 of the one before. Pure.

A record's hash covers every column (sequence, ids, type, subject, time, payload) and the hash
of the record before, so changing any of them, dropping a record or swapping two breaks the
chain from that point on. Dropping records at the *end* leaves a shorter valid chain; the
store's head row (last sequence and hash, written in the same transaction as each append) and
the ``at_obs_audit_head_seq`` gauge are what catch a truncated tail.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from at_core import subjects
from at_core.serialization import canonical_dumps

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One line of the audit log."""

    seq: int
    event_id: str
    event_type: str
    correlation_id: str
    causation_id: str | None
    subject: str
    ts_event: int
    payload: bytes  # canonical JSON of the event (at-core ``encode_event``)
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last record's sequence and hash (``0`` and GENESIS for an empty log)."""

    seq: int = 0
    hash: str = GENESIS


def record_hash(
    prev_hash: str,
    seq: int,
    event_id: str,
    event_type: str,
    correlation_id: str,
    causation_id: str | None,
    subject: str,
    ts_event: int,
    payload: bytes,
) -> str:
    """``sha256(canonical JSON header + "\\n" + payload)``; the header lists every other column."""
    header = canonical_dumps([prev_hash, seq, event_id, event_type, correlation_id, causation_id, subject, ts_event])
    return hashlib.sha256(header + b"\n" + payload).hexdigest()


def seal(
    head: ChainHead,
    *,
    event_id: str,
    event_type: str,
    correlation_id: str,
    causation_id: str | None,
    subject: str,
    ts_event: int,
    payload: bytes,
) -> AuditRecord:
    """The record that follows ``head``."""
    seq = head.seq + 1
    digest = record_hash(head.hash, seq, event_id, event_type, correlation_id, causation_id, subject, ts_event, payload)
    return AuditRecord(
        seq, event_id, event_type, correlation_id, causation_id, subject, ts_event, payload, head.hash, digest
    )


def _recomputed(r: AuditRecord) -> str:
    return record_hash(
        r.prev_hash, r.seq, r.event_id, r.event_type, r.correlation_id, r.causation_id, r.subject, r.ts_event, r.payload
    )


def verify_chain(records: Iterable[AuditRecord], head: ChainHead | None = None) -> list[str]:
    """Every problem: an altered record, a broken link, a gap or reordering, a truncated tail.

    Args:
        records: the log in ``seq`` order.
        head: the store's recorded head; when given, the last record must match it.
    """
    problems = []
    prev, expected_seq = GENESIS, 1
    last = ChainHead()
    for r in records:
        if r.seq != expected_seq:
            problems.append(f"seq {r.seq}: expected {expected_seq} (missing or reordered record)")
        if r.prev_hash != prev:
            problems.append(f"seq {r.seq}: prev_hash does not match the record before")
        if _recomputed(r) != r.hash:
            problems.append(f"seq {r.seq}: hash does not match its content (altered)")
        prev, expected_seq = r.hash, r.seq + 1
        last = ChainHead(r.seq, r.hash)
    if head is not None and head != last:
        problems.append(
            f"head: the store's head is seq {head.seq} but the log ends at seq {last.seq} "
            "(records missing at the end, or the head was altered)"
        )
    return problems


def misrouted(records: Iterable[AuditRecord]) -> list[str]:
    """Every record whose event type does not belong to the subject family it arrived on.

    Consumers never acted on such an event (the bus dead-letters it); the recorder keeps it as
    evidence, and verification reports it: a forgery with a leaked credential, or a publisher bug.
    """
    flagged = []
    for r in records:
        reason = subjects.origin_violation(r.event_type, r.subject)
        if reason is not None:
            flagged.append(f"seq {r.seq}: a {r.event_type} event on {r.subject} ({reason}): misrouted, not acted on")
    return flagged


def causal_order(records: list[AuditRecord]) -> list[AuditRecord]:
    """Records of one story, each after the event that caused it (recording order otherwise).

    The recorder reads several streams at once, so a risk decision can be recorded a moment
    before the proposal that caused it; the story is told in causal order.
    """
    by_id = {r.event_id: r for r in records}
    emitted: set[str] = set()
    out: list[AuditRecord] = []

    def emit(record: AuditRecord, depth: int = 0) -> None:
        if record.event_id in emitted or depth > len(records):
            return
        parent = record.causation_id
        if parent is not None and parent in by_id and parent not in emitted:
            emit(by_id[parent], depth + 1)
        emitted.add(record.event_id)
        out.append(record)

    for record in sorted(records, key=lambda r: r.seq):
        emit(record)
    return out
