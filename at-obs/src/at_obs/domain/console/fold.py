"""Fold the audit log into the console's ledger and tail. Pure: it consumes an iterator."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable

from at_obs.domain.chain import AuditRecord
from at_obs.domain.console.ledger import ORDER_EVENTS, Ledger
from at_obs.domain.console.tail import TAIL_KEPT, Tail

#: Records read per query when the console folds the store.
READ_BATCH = 10_000
#: Only these records are decoded for the ledger (market data and heartbeats are most of a log).
LEDGER_TYPES = frozenset(
    {"account_state", "trading_state_changed", "broker_mismatch", "fill", "position", "market_data", *ORDER_EVENTS}
)


def fold_records(
    records: Iterable[AuditRecord], ledger: Ledger | None = None, tail: Tail | None = None
) -> tuple[Ledger, Tail]:
    """The ledger and tail after ``records`` (in ``seq`` order).

    Callers pass ``store.iter_records(READ_BATCH)``: big batches, because each batch is one query.
    """
    ledger = ledger or Ledger()
    tail = tail or Tail()
    last: deque[AuditRecord] = deque(maxlen=TAIL_KEPT)
    for record in records:
        last.append(record)
        if record.event_type in LEDGER_TYPES:
            ledger.apply(json.loads(record.payload), record.seq)
        else:
            ledger.last_seq = max(ledger.last_seq, record.seq)
            ledger.events_seen += 1
    for record in last:
        tail.add(json.loads(record.payload))
    return ledger, tail
