"""Consuming: binding to a durable made by provisioning, handing events over, and the ack rules.

Handler success acks; a handler error naks with a delay (redelivered up to ``max_deliver``);
bytes that are not a valid event, and misrouted events, never reach a handler (see
:mod:`at_core.runtime.bus.origin`). A batch handler's events are acked together or naked together.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import BadRequestError, NotFoundError

from at_core import subjects
from at_core.events import Event
from at_core.metrics.catalog import Metrics
from at_core.runtime.bus.children import Children
from at_core.runtime.bus.delivery import BatchHandler, Delivery, Handler, subject_family
from at_core.runtime.bus.errors import BusError, PublishError
from at_core.runtime.bus.origin import OriginCheck
from at_core.runtime.bus.pipeline import PullWindow
from at_core.runtime.bus.pull import Consumer, OnMessages, pull_loop
from at_core.runtime.logging import bind_event_context, get_logger

log = get_logger("at_core.bus")


def stream_name(subject_filter: str) -> str:
    """The stream that captures ``subject_filter``.

    Raises:
        BusError: no stream captures it.
    """
    probe = subject_filter.replace(">", "x").replace("*", "x")
    spec = subjects.stream_for_subject(probe)
    if spec is None:
        raise BusError(f"no stream captures {subject_filter}")
    return spec.name


@dataclass(frozen=True, slots=True)
class DurableOptions:
    """A durable consumer's settings: used to create it (tests, provisioning) or to check it."""

    subject_filter: str
    durable: str
    ack_wait_s: float = 30.0
    max_deliver: int = 10
    deliver_policy: DeliverPolicy = DeliverPolicy.ALL

    def config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait_s,
            max_deliver=self.max_deliver,
            deliver_policy=self.deliver_policy,
            filter_subject=self.subject_filter,
        )


class Consuming:
    """The durable consumers of one connection: bound, looped, acked; the running ones listed."""

    def __init__(
        self, js: JetStreamContext, service: str, metrics: Metrics, origin: OriginCheck, *, create: bool = False
    ) -> None:
        self._js = js
        self._service = service
        self._metrics = metrics
        self._origin = origin
        #: Create a missing durable instead of refusing (provisioning and tests only).
        self.create = create
        self.consumers: list[Consumer] = []
        self._handle_seconds = Children(metrics.histogram("event_handle_seconds"))
        self._consumed_total = Children(metrics.counter("events_consumed_total"))

    async def consume(
        self, options: DurableOptions, stream: str | None, handler: Handler, batch: int, nak_delay_s: float
    ) -> Consumer:
        """See :meth:`at_core.runtime.bus.EventBus.consume`."""
        sub, name = await self.bind(options, stream)

        async def each(msgs: list[Msg]) -> None:
            for msg in msgs:
                await self._handle(msg, handler, nak_delay_s)

        return self._start(sub, each, batch, options.durable, name)

    async def consume_batches(
        self,
        options: DurableOptions,
        stream: str | None,
        handler: BatchHandler,
        batch: int,
        nak_delay_s: float,
        deliver_misrouted: bool,
        linger_s: float = 0.0,
    ) -> Consumer:
        """See :meth:`at_core.runtime.bus.EventBus.consume_batches`."""
        sub, name = await self.bind(options, stream)

        async def together(msgs: list[Msg]) -> None:
            await self._handle_batch(msgs, handler, nak_delay_s, deliver_misrouted)

        return self._start(sub, together, batch, options.durable, name, linger_s)

    async def bind(self, options: DurableOptions, stream: str | None) -> tuple[JetStreamContext.PullSubscription, str]:
        """Bind to the existing durable (created by provisioning, never here unless ``create``).

        Raises:
            BusError: the durable does not exist (and this bus may not create it), or it filters
                other subjects than asked.
        """
        name = stream or stream_name(options.subject_filter)
        durable = options.durable
        try:
            info = await self._js.consumer_info(name, durable)
        except (TimeoutError, NatsTimeoutError) as exc:  # no answer: the server refused the request
            raise BusError(
                f"durable consumer {durable} on {name} cannot be looked up (not granted to "
                f"{self._service}, or NATS is unavailable): {exc!r}"
            ) from exc
        except NotFoundError:
            if not self.create:
                raise BusError(
                    f"durable consumer {durable} on {name} does not exist: "
                    "run the provisioning step (at-core-provision) before the services"
                ) from None
            try:
                await self._js.add_consumer(name, options.config())
            except BadRequestError as exc:
                raise BusError(f"cannot create consumer {durable} on {options.subject_filter}: {exc}") from exc
        else:
            have = info.config
            wanted = options.subject_filter
            if have.filter_subject != wanted and wanted not in (have.filter_subjects or []):
                raise BusError(f"durable {durable} filters {have.filter_subject}, not {wanted}")
            if have.ack_wait != options.ack_wait_s or have.max_deliver != options.max_deliver:
                log.warning(
                    "consumer_config_differs",
                    durable=durable,
                    ack_wait_s=have.ack_wait,
                    max_deliver=have.max_deliver,
                    asked_ack_wait_s=options.ack_wait_s,
                    asked_max_deliver=options.max_deliver,
                )
        sub = await self._js.pull_subscribe_bind(durable=durable, stream=name)
        return sub, name

    async def stop_all(self) -> None:
        """Stop every consumer (each bounded)."""
        for consumer in self.consumers:
            await consumer.stop()
        self.consumers.clear()

    def _start(
        self,
        sub: JetStreamContext.PullSubscription,
        on_msgs: OnMessages,
        batch: int,
        durable: str,
        stream: str,
        linger_s: float = 0.0,
    ) -> Consumer:
        stopping = asyncio.Event()
        window = PullWindow(sub, batch, linger_s)
        task = asyncio.create_task(pull_loop(window, on_msgs, stopping), name=f"consumer:{durable}")
        consumer = Consumer(task, sub, stopping, durable, stream, window)
        self.consumers.append(consumer)
        return consumer

    def _handled(
        self,
        event: Event,
        subject: str,
        seconds: float,
        error: Exception | None,
        delivered: int,
        *,
        quiet: bool = False,
    ) -> None:
        """Count, time and log one event's handling (inside its event context); ``quiet`` logs no failure."""
        self._handle_seconds(event.event_type).observe(seconds)
        if error is not None:
            self._consumed_total(event.event_type, subject_family(subject), "error").inc()
            if quiet:
                return
            log.error(
                "event_handler_failed",
                event_type=event.event_type,
                subject=subject,
                delivered=delivered,
                error=repr(error),
                exc_info=error,
            )
            return
        self._consumed_total(event.event_type, subject_family(subject), "ok").inc()
        # debug: one line per consumed event doubled every service's log volume and cost the
        # recorder a fifth of its CPU; handlers log what they did, the audit trail has every event.
        log.debug("event_consumed", event_type=event.event_type, subject=subject)

    async def _handle(self, msg: Msg, handler: Handler, nak_delay_s: float) -> None:
        try:
            opened = await self._origin.open(msg)
        except PublishError:  # the dead letter was not stored: try again later, never drop it
            await msg.nak(delay=nak_delay_s)
            return
        if opened is None:
            return
        event, delivery = opened
        started = time.perf_counter()
        with bind_event_context(event.event_id, event.correlation_id, event.causation_id):
            try:
                await handler(event, delivery)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._handled(event, msg.subject, time.perf_counter() - started, exc, delivery.num_delivered)
                await msg.nak(delay=nak_delay_s)
                return
            await msg.ack()
            self._handled(event, msg.subject, time.perf_counter() - started, None, delivery.num_delivered)

    async def _handle_batch(
        self, msgs: list[Msg], handler: BatchHandler, nak_delay_s: float, deliver_misrouted: bool = False
    ) -> None:
        opened: list[tuple[Msg, Event, Delivery]] = []
        for msg in msgs:
            try:
                item = await self._origin.open(msg, deliver_misrouted)
            except PublishError:  # the dead letter was not stored: try again later, never drop it
                await msg.nak(delay=nak_delay_s)
                continue
            if item is not None:
                opened.append((msg, *item))
        if not opened:
            return
        started = time.perf_counter()
        error: Exception | None = None
        try:
            await handler([(event, delivery) for _, event, delivery in opened])
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = exc
            log.error(
                "event_batch_handler_failed",
                events=len(opened),
                first_event_id=opened[0][1].event_id,
                first_stream_seq=opened[0][2].stream_sequence,
                error=repr(exc),
                exc_info=exc,
            )
        seconds = time.perf_counter() - started
        for msg, event, delivery in opened:
            with bind_event_context(event.event_id, event.correlation_id, event.causation_id):
                if error is None:
                    await msg.ack()
                else:
                    await msg.nak(delay=nak_delay_s)
                self._handled(event, msg.subject, seconds, error, delivery.num_delivered, quiet=True)
