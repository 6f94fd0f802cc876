"""Fold audit records into the console's ledger and tail. Pure: it consumes records.

The same code folds the store at startup (:func:`fold_records`) and each record the recorder
commits afterwards (:func:`fold_record`), so a live console and a restarted one show the same.
Only the records the ledger reads are decoded; the tail keeps the others' bytes and decodes
them when a page shows them (most records are never shown: the tail keeps 500).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from at_obs.domain.chain import AuditRecord
from at_obs.domain.console.ledger import ORDER_EVENTS, Ledger
from at_obs.domain.console.payload import decode_payload
from at_obs.domain.console.tail import Tail

#: Records read per query when the console folds the store.
READ_BATCH = 10_000
#: Only these records are decoded for the ledger (market data and heartbeats are most of a log).
LEDGER_TYPES = frozenset(
    {"account_state", "trading_state_changed", "broker_mismatch", "fill", "position", "market_data", *ORDER_EVENTS}
)


def fold_record(ledger: Ledger, record: AuditRecord) -> dict[str, Any] | None:
    """Fold one record into ``ledger``; its decoded event when the ledger read it, else None."""
    if record.event_type in LEDGER_TYPES:
        event = decode_payload(record.payload)
        ledger.apply(event, record.seq)
        return event
    ledger.last_seq = max(ledger.last_seq, record.seq)
    ledger.events_seen += 1
    return None


def fold_records(
    records: Iterable[AuditRecord], ledger: Ledger | None = None, tail: Tail | None = None
) -> tuple[Ledger, Tail]:
    """The ledger and tail after ``records`` (in ``seq`` order).

    Callers pass ``store.iter_records(READ_BATCH)``: big batches, because each batch is one query.
    """
    ledger = ledger or Ledger()
    tail = tail or Tail()
    for record in records:
        fold_record(ledger, record)
        tail.add_raw(record.payload)  # decoded when shown: only the last TAIL_KEPT are kept
    return ledger, tail
