"""The audit record and its hash chain: each record holds the SHA-256 of the one before. Pure."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    event_id: str
    event_type: str
    correlation_id: str
    subject: str
    ts_event: int
    payload: bytes  # canonical JSON of the event
    prev_hash: str
    hash: str


def record_hash(prev_hash: str, seq: int, payload: bytes) -> str:
    digest = hashlib.sha256()
    digest.update(prev_hash.encode())
    digest.update(seq.to_bytes(8, "big"))
    digest.update(payload)
    return digest.hexdigest()


def verify_chain(records: list[AuditRecord]) -> list[str]:
    """Every problem: an altered payload, a broken link, a gap or reordering in the sequence."""
    problems = []
    prev, expected_seq = GENESIS, 1
    for r in records:
        if r.seq != expected_seq:
            problems.append(f"seq {r.seq}: expected {expected_seq} (missing or reordered record)")
        if r.prev_hash != prev:
            problems.append(f"seq {r.seq}: prev_hash does not match the record before")
        if record_hash(r.prev_hash, r.seq, r.payload) != r.hash:
            problems.append(f"seq {r.seq}: hash does not match its content (altered)")
        prev, expected_seq = r.hash, r.seq + 1
    return problems


def causal_order(records: list[AuditRecord], causes: dict[str, str | None]) -> list[AuditRecord]:
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
        parent = causes.get(record.event_id)
        if parent in by_id and parent not in emitted:
            emit(by_id[parent], depth + 1)
        emitted.add(record.event_id)
        out.append(record)

    for record in sorted(records, key=lambda r: r.seq):
        emit(record)
    return out
