"""Publishing events: JetStream-acknowledged when a stream captures the subject (``Nats-Msg-Id``
= ``event_id``, so JetStream drops duplicates within its window), core NATS otherwise; every
outcome counted by event type, subject family and outcome, and logged."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import PubAck

from at_core import subjects
from at_core.events import Event
from at_core.metrics.catalog import Metrics
from at_core.runtime.acks import AckWaiter
from at_core.runtime.bus.delivery import subject_family
from at_core.runtime.bus.errors import PublishError
from at_core.runtime.logging import bind_event_context, get_logger
from at_core.serialization import encode_event

log = get_logger("at_core.bus")


def event_headers(event: Event, msg_id: str | None = None) -> dict[str, str]:
    """The NATS headers of ``event``: its id (JetStream's de-duplication key, unless ``msg_id``
    names another, such as the gateway's alert key), type, ids, schema."""
    headers = {
        subjects.HEADER_MSG_ID: msg_id or event.event_id,
        subjects.HEADER_EVENT_TYPE: event.event_type,
        subjects.HEADER_CORRELATION_ID: event.correlation_id,
        subjects.HEADER_SCHEMA_VERSION: str(event.schema_version),
    }
    if event.causation_id:
        headers[subjects.HEADER_CAUSATION_ID] = event.causation_id
    return headers


class Publisher:
    """Typed publishes over one connection, one at a time or back to back."""

    def __init__(self, nc: NatsClient, js: JetStreamContext, metrics: Metrics) -> None:
        self._nc = nc
        self._js = js
        self._metrics = metrics
        self._acks = AckWaiter(nc)

    async def publish(
        self, event: Event, *, subject: str | None = None, timeout: float = 5.0, msg_id: str | None = None
    ) -> PubAck | None:
        """See :meth:`at_core.runtime.bus.EventBus.publish`."""
        subject = subject or subjects.subject_for(event)
        payload = encode_event(event)
        headers = event_headers(event, msg_id)
        try:
            if subjects.stream_for_subject(subject) is None:
                await self._nc.publish(subject, payload, headers=headers)
                ack = None
            else:
                ack = await self._js.publish(subject, payload, timeout=timeout, headers=headers)
        except Exception as exc:
            self._published(event, subject, None, exc)
            raise PublishError(event.event_id, subject, repr(exc)) from exc
        self._published(event, subject, ack, None)
        return ack

    async def publish_many(self, events: Sequence[Event], *, timeout: float = 5.0) -> list[PubAck | None]:
        """See :meth:`at_core.runtime.bus.EventBus.publish_many`."""
        pending: list[tuple[Event, str, asyncio.Future[PubAck] | None]] = []
        acks: list[PubAck | None] = []
        try:
            for event in events:
                pending.append(await self._send(event, len(acks)))
            deadline = asyncio.get_running_loop().time() + timeout
            for event, subject, future in pending:
                acks.append(await self._acked(event, subject, future, deadline, len(acks)))
        finally:
            for _, _, future in pending:  # abandoned after a failure: a late reply finds nothing
                if future is not None and not future.done():
                    future.cancel()
        return acks

    async def _send(self, event: Event, published: int) -> tuple[Event, str, asyncio.Future[PubAck] | None]:
        """Send one event of a batch; the future its JetStream ack resolves (None on core NATS)."""
        subject = subjects.subject_for(event)
        payload, headers = encode_event(event), event_headers(event)
        try:
            if subjects.stream_for_subject(subject) is None:
                await self._nc.publish(subject, payload, headers=headers)
                return event, subject, None
            reply, future = await self._acks.reply_to()
            await self._nc.publish(subject, payload, reply=reply, headers=headers)
        except Exception as exc:
            self._published(event, subject, None, exc)
            raise PublishError(event.event_id, subject, repr(exc), published) from exc
        return event, subject, future

    async def _acked(
        self, event: Event, subject: str, future: asyncio.Future[PubAck] | None, deadline: float, published: int
    ) -> PubAck | None:
        """Await one sent event's ack until the batch's deadline."""
        ack = None
        if future is not None:
            try:
                left = max(0.0, deadline - asyncio.get_running_loop().time())
                ack = await asyncio.wait_for(asyncio.shield(future), left)
            except Exception as exc:
                self._published(event, subject, None, exc)
                raise PublishError(event.event_id, subject, repr(exc), published) from exc
        self._published(event, subject, ack, None)
        return ack

    def _published(self, event: Event, subject: str, ack: PubAck | None, error: Exception | None) -> None:
        """Count and log one publish's outcome (an ack, or the error)."""
        counter = self._metrics.counter("events_published_total")
        labels = (event.event_type, subject_family(subject))
        with bind_event_context(event.event_id, event.correlation_id, event.causation_id):
            if error is not None:
                counter.labels(*labels, "error").inc()
                log.warning("event_publish_failed", event_type=event.event_type, subject=subject, error=repr(error))
                return
            outcome = "duplicate" if ack is not None and ack.duplicate else "ok"
            counter.labels(*labels, outcome).inc()
            log.info(
                "event_published",
                event_type=event.event_type,
                subject=subject,
                outcome=outcome,
                stream_seq=ack.seq if ack else None,
            )
