"""What a handler is given with each event, the handler shapes, and the metric label of a subject."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from at_core.events import Event


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where a consumed event came from."""

    subject: str
    stream: str | None
    stream_sequence: int | None
    num_delivered: int
    headers: dict[str, str]
    #: Why the event must not be believed on this subject (see ``subjects.origin_violation``);
    #: only ever set for a consumer started with ``deliver_misrouted=True`` (the recorder).
    origin_violation: str | None = None


Handler = Callable[[Event, Delivery], Awaitable[None]]
#: Takes a fetched batch at once; all of it is acked when it returns, all naked when it raises.
BatchHandler = Callable[[Sequence[tuple[Event, Delivery]]], Awaitable[None]]


@functools.lru_cache(maxsize=4096)  # subjects name accounts and instruments: as many as are traded
def subject_family(subject: str) -> str:
    """First two tokens (``at.signal``): a bounded label value for metrics."""
    return ".".join(subject.split(".")[:2])
