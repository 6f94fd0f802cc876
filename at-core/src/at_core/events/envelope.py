"""The envelope every event shares, and the factory that stamps it.

Timestamps are integer UTC nanoseconds (``ts_event``: when the thing happened;
``ts_init``: when this event object was made). Integers, not datetimes, because they are
exact, totally ordered, time-zone free, and serialise to the same bytes in every language,
which canonical JSON and replay hashes depend on.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import Field, model_validator

from at_core.clock import Clock
from at_core.ids import IdGenerator, derive_id
from at_core.models.base import FrozenModel, Identifier, TimestampNs

EventId = Annotated[
    str, Field(min_length=26, max_length=26, pattern=r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$", description="ULID")
]
CorrelationId = Annotated[str, Field(min_length=1, max_length=64)]


class Event(FrozenModel):
    """Base of every at-core event. Subclasses fix ``event_type`` with a ``Literal``."""

    #: Bumped by one for each additive change to a class's fields (see docs/CONTRACTS.md).
    SCHEMA_VERSION: ClassVar[int] = 1

    event_id: EventId
    event_type: str
    schema_version: int = Field(default=1, ge=1)
    ts_event: TimestampNs
    ts_init: TimestampNs
    source: Identifier = Field(description="Service that produced the event")
    correlation_id: CorrelationId = Field(
        description="Carried unchanged from the first event (the webhook) to the fill"
    )
    causation_id: EventId | None = Field(default=None, description="event_id of the event that caused this one")

    @model_validator(mode="before")
    @classmethod
    def _stamp_schema_version(cls, data: Any) -> Any:
        # A new event carries its class's current version; a decoded one keeps what it says.
        if isinstance(data, dict) and "schema_version" not in data:
            return {**data, "schema_version": cls.SCHEMA_VERSION}
        return data

    @classmethod
    def type_name(cls) -> str:
        """The wire value of ``event_type`` for this class."""
        return str(cls.model_fields["event_type"].default)


E = TypeVar("E", bound=Event)


class EventFactory:
    """Stamps envelopes for one service from an injected clock and id generator.

    ``make(..., cause=parent)`` copies the parent's correlation id and sets causation to
    the parent's id; ``derive_from`` makes the id from the parent so redelivery of the
    parent yields the same child id (idempotency).
    """

    def __init__(self, source: str, clock: Clock, ids: IdGenerator) -> None:
        self.source = source
        self.clock = clock
        self.ids = ids

    def make(
        self,
        cls: type[E],
        *,
        cause: Event | None = None,
        ts_event: int | None = None,
        correlation_id: str | None = None,
        derive_from: str | None = None,
        derive_root: str | None = None,
        **fields: Any,
    ) -> E:
        """Build an event of ``cls`` with a full envelope.

        Args:
            cls: the event class.
            cause: the event that caused this one (sets correlation and causation).
            ts_event: when it happened; defaults to the cause's ``ts_event`` or now.
            correlation_id: for a root event; defaults to its own event id.
            derive_from: a purpose string; when given with ``cause``, the id is derived
                from the cause's id and this purpose instead of freshly generated.
            derive_root: for an event with no cause, the id ``derive_from`` derives from
                (an anchor made from an external idempotency key, say): a retry gets the same id.
            fields: the event's own fields.
        """
        now = self.clock.now_ns()
        if ts_event is None:
            ts_event = cause.ts_event if cause is not None else now
        if derive_from is not None:
            root = cause.event_id if cause is not None else derive_root
            if root is None:
                raise ValueError("derive_from needs a cause or a derive_root")
            event_id = derive_id(root, derive_from)
        else:
            event_id = self.ids.new()
        corr = correlation_id or (cause.correlation_id if cause is not None else event_id)
        return cls(
            event_id=event_id,
            ts_event=ts_event,
            ts_init=now,
            source=self.source,
            correlation_id=corr,
            causation_id=cause.event_id if cause is not None else None,
            **fields,
        )
