"""Opening a message: decode it, and believe an event only on the subject family that carries
its type (``subjects.origin_violation``). Undecodable bytes are counted and dropped; a misrouted
event is counted, logged and dead-lettered on ``at.dlq.<service>.<reason>``, never handed to a
handler unless the consumer asked for misrouted events (the recorder keeps them as evidence)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.msg import Msg

from at_core import subjects
from at_core.errors import DecodeError
from at_core.events import Event, RejectedInputEvent
from at_core.ids import derive_id
from at_core.metrics.catalog import Metrics
from at_core.runtime.bus.children import Children
from at_core.runtime.bus.delivery import Delivery, subject_family
from at_core.runtime.logging import bind_event_context, get_logger
from at_core.serialization import decode_event

log = get_logger("at_core.bus")

#: ``subjects.origin_violation`` remembered: a pure function of the type and the subject, asked
#: for every consumed message (its family lookup matches the subject against every pattern).
_origin_violation = functools.lru_cache(maxsize=4096)(subjects.origin_violation)

#: How much of a misrouted message's bytes its dead letter keeps.
DEAD_LETTER_BODY_CHARS = 4096


def misrouted_dead_letter(service: str, event: Event, subject: str, data: bytes, reason: str) -> RejectedInputEvent:
    """The dead letter of an event that arrived on a subject it may not come from.

    Its id and times derive from the refused event, so the same input gives the same dead
    letter (replay stays byte-identical, a redelivery is a JetStream duplicate).
    """
    family = subjects.family_for_subject(subject)
    carried = ", ".join(sorted(family.event_types)) if family else "nothing"
    return RejectedInputEvent(
        event_id=derive_id(event.event_id, f"misrouted:{service}:{subject}"),
        ts_event=event.ts_event,
        ts_init=event.ts_init,
        source=service,
        correlation_id=event.correlation_id,
        causation_id=event.event_id,
        route=f"nats:{subject}"[:1024],
        status_code=422,
        reason=reason,
        detail=f"a {event.event_type} event arrived on {subject}, which carries {carried}; not acted on",
        raw_body=data[:DEAD_LETTER_BODY_CHARS].decode(errors="replace"),
    )


def delivery_of(msg: Msg, violation: str | None = None) -> Delivery:
    """The :class:`Delivery` of a JetStream message."""
    meta: Any = msg.metadata
    return Delivery(
        subject=msg.subject,
        stream=meta.stream,
        stream_sequence=meta.sequence.stream,
        num_delivered=meta.num_delivered,
        headers=dict(msg.headers or {}),
        origin_violation=violation,
    )


class OriginCheck:
    """Decodes and checks the messages of one service's consumers and reads."""

    def __init__(self, service: str, metrics: Metrics, publish: Callable[[Event], Awaitable[Any]]) -> None:
        self._service = service
        self._metrics = metrics
        self._publish = publish
        self._redeliveries = Children(metrics.counter("event_redeliveries_total"))

    async def open(self, msg: Msg, deliver_misrouted: bool = False) -> tuple[Event, Delivery] | None:
        """Decode and check a consumed message; None when it must not reach the handler.

        Undecodable bytes are terminated, counted and logged. An event whose type does not
        belong to the subject family it arrived on is dead-lettered, counted and terminated
        (unless ``deliver_misrouted``: then it is handed over with ``origin_violation`` set).

        Raises:
            PublishError: the dead letter could not be stored (the caller naks the message).
        """
        event = self._decode(msg)
        if event is None:
            await msg.term()
            return None
        violation = _origin_violation(event.event_type, msg.subject)
        delivery = delivery_of(msg, violation)
        if violation is not None:
            await self.misrouted(event, msg.subject, msg.data, violation, dead_letter=not deliver_misrouted)
            if not deliver_misrouted:
                await msg.term()
                return None
        if delivery.num_delivered > 1:
            self._redeliveries(event.event_type).inc()
        return event, delivery

    async def open_for_read(self, msg: Msg) -> tuple[Event, Delivery] | None:
        """:meth:`open` for an unacknowledged read: nothing to ack or terminate."""
        event = self._decode(msg)
        if event is None:
            return None
        violation = _origin_violation(event.event_type, msg.subject)
        if violation is not None:
            await self.misrouted(event, msg.subject, msg.data, violation)
            return None
        return event, delivery_of(msg)

    async def misrouted(
        self, event: Event, subject: str, data: bytes, reason: str, *, dead_letter: bool = True
    ) -> None:
        """Count and log an event that arrived where it may not come from, and dead-letter it.

        Raises:
            PublishError: the dead letter could not be stored (the message is then naked and
                comes again: a forged event is never silently dropped).
        """
        family = subject_family(subject)
        self._metrics.counter("events_misrouted_total").labels(event.event_type, family, reason).inc()
        self._metrics.counter("events_consumed_total").labels(event.event_type, family, "misrouted").inc()
        with bind_event_context(event.event_id, event.correlation_id, event.causation_id):
            log.error("event_misrouted", event_type=event.event_type, subject=subject, reason=reason)
        if dead_letter:
            await self._publish(misrouted_dead_letter(self._service, event, subject, data, reason))

    def _decode(self, msg: Msg) -> Event | None:
        try:
            return decode_event(msg.data)
        except DecodeError as exc:
            self._metrics.counter("events_consumed_total").labels(
                exc.event_type or "unknown", subject_family(msg.subject), "undecodable"
            ).inc()
            log.error("event_undecodable", subject=msg.subject, error=exc.reason[:500])
            return None
