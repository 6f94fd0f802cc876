"""Ordering lanes: which accepted events must reach JetStream in the order they were accepted.

Only events that act on the same position depend on each other: a signal (or a manual order)
for one account and instrument is that position's lane, ``(account_id, instrument_id)``. An
event stored in the outbox holds back later events of its own lane only, so one slow ack sends
one position's traffic to disk, not the whole gateway's.

An event without both fields (market data, a chart of no account), and an outbox row written
before lanes existed, has no lane (``None``): it keeps the old conservative rule, a barrier.
While such an event is queued, every later event waits behind it; and it waits itself while
anything at all is queued (it may depend on any of it).

The same rule holds for publishes in flight (``adapters/in_flight.py``): an event whose lane has
an earlier publish not yet answered waits for that answer, so an earlier event that fails into
the outbox is never overtaken by a later one of its lane that JetStream took meanwhile.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable

from at_core.events import Event

Lane = tuple[str, str] | None  # (account_id, instrument_id); None: no lane (a barrier)


def lane_of(event: Event) -> Lane:
    """The event's lane, ``(account_id, instrument_id)``, or None when it lacks either field."""
    account = getattr(event, "account_id", None)
    instrument = getattr(event, "instrument_id", None)
    if not account or not instrument:
        return None
    return (account, instrument)


def lane_text(lane: Lane) -> str | None:
    """The lane as stored (the outbox's ``lane`` column): a JSON pair, unambiguous and readable."""
    return None if lane is None else json.dumps(list(lane), separators=(",", ":"))


def lane_from_text(text: str | None) -> Lane:
    """The lane of a stored row (NULL, a row from before lanes: no lane)."""
    if text is None:
        return None
    account, instrument = json.loads(text)
    return (str(account), str(instrument))


class QueuedLanes:
    """How many queued events each lane holds, and whether a new event must queue behind them."""

    __slots__ = ("_counts", "_total")

    def __init__(self, queued: Iterable[tuple[Lane, int]] = ()) -> None:
        self._counts: Counter[Lane] = Counter()
        for lane, n in queued:
            if n > 0:
                self._counts[lane] += n
        self._total = sum(self._counts.values())

    def add(self, lane: Lane) -> None:
        self._counts[lane] += 1
        self._total += 1

    def remove(self, lane: Lane) -> None:
        left = self._counts[lane] - 1
        if left > 0:
            self._counts[lane] = left
        else:
            del self._counts[lane]  # a drained lane is forgotten: memory follows what is queued
        self._total -= 1

    def holds_back(self, lane: Lane) -> bool:
        """An event of ``lane`` must queue behind the outbox: an earlier event it may depend on waits there."""
        if not self._total:
            return False
        return lane is None or None in self._counts or lane in self._counts

    def why(self, lane: Lane) -> str:
        """Why :meth:`holds_back` is true: ``behind_lane`` (its own lane is queued) or ``behind_all``
        (it has no lane, or an event without one is queued)."""
        return "behind_lane" if lane is not None and None not in self._counts else "behind_all"

    def __len__(self) -> int:
        return self._total

    def lanes(self) -> int:
        """How many distinct lanes are queued (the no-lane barrier counting as one)."""
        return len(self._counts)
