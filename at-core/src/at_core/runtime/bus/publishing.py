"""Publishing events: JetStream-acknowledged when a stream captures the subject (``Nats-Msg-Id``
= ``event_id``, so JetStream drops duplicates within its window), core NATS otherwise; every
outcome counted by event type, subject family and outcome, and logged."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import PubAck

from at_core import subjects
from at_core.events import Event
from at_core.metrics.catalog import Metrics
from at_core.runtime.acks import AckWaiter
from at_core.runtime.bus.children import Children
from at_core.runtime.bus.delivery import subject_family
from at_core.runtime.bus.errors import PublishError
from at_core.runtime.logging import get_logger
from at_core.serialization import encode_event

log = get_logger("at_core.bus")

#: Subjects whose route a publisher remembers before starting over (they name accounts and
#: instruments, so there are as many as the firm trades; this bounds the memory all the same).
ROUTE_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class _Route:
    """Whether a stream captures a subject (JetStream-acked) and its metric label."""

    captured: bool
    family: str


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


def _expire(future: asyncio.Future[PubAck]) -> None:
    """A single publish's deadline: no ack came (what ``asyncio.wait_for`` raised here before)."""
    if not future.done():
        future.set_exception(TimeoutError())


class Publisher:
    """Typed publishes over one connection, one at a time or back to back."""

    def __init__(self, nc: NatsClient, js: JetStreamContext, metrics: Metrics) -> None:
        self._nc = nc
        self._js = js
        self._metrics = metrics
        self._acks = AckWaiter(nc)
        self._routes: dict[str, _Route] = {}
        self._published_total = Children(metrics.counter("events_published_total"))

    async def publish(
        self, event: Event, *, subject: str | None = None, timeout: float = 5.0, msg_id: str | None = None
    ) -> PubAck | None:
        """See :meth:`at_core.runtime.bus.EventBus.publish`."""
        subject = subject or subjects.subject_for(event)
        payload = encode_event(event)
        headers = event_headers(event, msg_id)
        try:
            if not self._route(subject).captured:
                await self._nc.publish(subject, payload, headers=headers)
                ack = None
            else:
                ack = await self._acked(subject, payload, headers, timeout)
        except Exception as exc:
            self._published(event, subject, None, exc)
            raise PublishError(event.event_id, subject, repr(exc)) from exc
        self._published(event, subject, ack, None)
        return ack

    async def _acked(self, subject: str, payload: bytes, headers: dict[str, str], timeout: float) -> PubAck:
        """One JetStream-acknowledged publish, its ack awaited through the batches' reply subscription.

        nats-py's ``js.publish`` (a request) mints an inbox token with its NUID, a future and an
        ``asyncio.wait_for`` per call, and its ack callback raises a refusal instead of returning it
        (see :mod:`at_core.runtime.acks`); here one counter token, one future, one timer handle.

        Raises:
            TimeoutError: no ack within ``timeout``; the server's refusal as its typed error.
        """
        reply, future = await self._acks.reply_to()
        timer = asyncio.get_running_loop().call_later(timeout, _expire, future)
        try:
            await self._nc.publish(subject, payload, reply=reply, headers=headers)
            return await future
        finally:
            timer.cancel()
            if not future.done():  # the caller gave up (cancelled): a late reply finds nothing
                future.cancel()

    async def publish_many(self, events: Sequence[Event], *, timeout: float = 5.0) -> list[PubAck | None]:
        """See :meth:`at_core.runtime.bus.EventBus.publish_many`."""
        pending: list[tuple[Event, str, asyncio.Future[PubAck] | None]] = []
        try:
            for event in events:
                pending.append(await self._send(event))
            return await self._acked_in_order(pending, asyncio.get_running_loop().time() + timeout)
        finally:
            for _, _, future in pending:  # abandoned after a failure: a late reply finds nothing
                if future is not None and not future.done():
                    future.cancel()

    async def _send(self, event: Event) -> tuple[Event, str, asyncio.Future[PubAck] | None]:
        """Send one event of a batch; the future its JetStream ack resolves (None on core NATS)."""
        subject = subjects.subject_for(event)
        payload, headers = encode_event(event), event_headers(event)
        try:
            if not self._route(subject).captured:
                await self._nc.publish(subject, payload, headers=headers)
                return event, subject, None
            reply, future = await self._acks.reply_to()
            await self._nc.publish(subject, payload, reply=reply, headers=headers)
        except Exception as exc:
            self._published(event, subject, None, exc)
            raise PublishError(event.event_id, subject, repr(exc), 0) from exc
        return event, subject, future

    async def _acked_in_order(
        self, pending: Sequence[tuple[Event, str, asyncio.Future[PubAck] | None]], deadline: float
    ) -> list[PubAck | None]:
        """The sent events' acks, checked in order until the batch's deadline.

        One ``asyncio.wait`` for the lot (woken when all are answered or one fails) instead of a
        ``wait_for`` per ack: a batch costs one wake-up, not one per event. An event counts as
        published only when every one before it does, so what is reported is always a prefix.
        """
        loop = asyncio.get_running_loop()
        waiting = {f for _, _, f in pending if f is not None and not f.done()}
        acks: list[PubAck | None] = []
        for event, subject, future in pending:
            ack = None
            if future is not None:
                while not future.done() and (left := deadline - loop.time()) > 0:
                    _, waiting = await asyncio.wait(waiting, timeout=left, return_when=asyncio.FIRST_EXCEPTION)
                try:
                    if not future.done():
                        raise TimeoutError()  # what asyncio.wait_for raised here before
                    ack = future.result()
                except Exception as exc:
                    self._published(event, subject, None, exc)
                    raise PublishError(event.event_id, subject, repr(exc), len(acks)) from exc
            self._published(event, subject, ack, None)
            acks.append(ack)
        return acks

    def _route(self, subject: str) -> _Route:
        """What publishing on ``subject`` needs to know, computed once per subject."""
        route = self._routes.get(subject)
        if route is None:
            if len(self._routes) >= ROUTE_CACHE_SIZE:  # subjects carry account and instrument: bounded
                self._routes.clear()
            route = _Route(subjects.stream_for_subject(subject) is not None, subject_family(subject))
            self._routes[subject] = route
        return route

    def _published(self, event: Event, subject: str, ack: PubAck | None, error: Exception | None) -> None:
        """Count and log one publish's outcome (an ack, or the error).

        The ids go on the line as fields rather than through :func:`bind_event_context`: the same
        line (the event's own ids win over the context's, a missing causation leaves the
        context's), without setting and resetting three context variables per event.
        """
        ids = {"event_id": event.event_id, "correlation_id": event.correlation_id}
        if event.causation_id:
            ids["causation_id"] = event.causation_id
        if error is not None:
            self._count(event.event_type, subject, "error")
            log.warning("event_publish_failed", event_type=event.event_type, subject=subject, error=repr(error), **ids)
            return
        outcome = "duplicate" if ack is not None and ack.duplicate else "ok"
        self._count(event.event_type, subject, outcome)
        log.info(
            "event_published",
            event_type=event.event_type,
            subject=subject,
            outcome=outcome,
            stream_seq=ack.seq if ack else None,
            **ids,
        )

    def _count(self, event_type: str, subject: str, outcome: str) -> None:
        """``events_published_total`` += 1, its labelled child looked up once per label set."""
        self._published_total(event_type, self._route(subject).family, outcome).inc()
