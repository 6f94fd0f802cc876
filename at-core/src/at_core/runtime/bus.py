"""The NATS bus: typed publish and consume of at-core events, logged and counted.

* ``publish`` sends to JetStream when a stream captures the subject (with ``Nats-Msg-Id``
  = ``event_id`` so JetStream drops duplicates within its window), else core NATS.
* ``consume`` runs a durable pull consumer with explicit ack: handler success acks,
  a handler error naks with a delay (redelivered up to ``max_deliver``), bytes that are not
  a valid event are terminated (never redelivered) and counted as ``undecodable``.
  ``consume_batches`` is the same for a handler that takes each fetched batch at once (one
  database transaction for many events, say): acked together, or naked together.
* Correlation and causation ids travel in headers as well as in the body, so tools can
  route on them without decoding.
* An event is believed only on the subject family that carries its type
  (``subjects.origin_violation``): anything else is dead-lettered on
  ``at.dlq.<service>.<reason>``, counted in ``events_misrouted_total`` and never handed to a
  handler, in ``consume``, ``consume_batches`` and the recovery read ``read_stream`` alike.
* Services never create streams or consumers (their NATS users may not): ``consume`` binds to
  a durable made by the provisioning step (:mod:`at_core.runtime.provision`);
  ``consumer_health`` tells ``/readyz`` whether it still exists and moves.

Every event published or consumed is counted here, by event type, subject family and outcome,
so services get that for free. Publishes and failures are logged at info; a consumed event at
debug (``AT_<SERVICE>_LOG_LEVEL=DEBUG``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, DiscardPolicy, PubAck, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from at_core import subjects
from at_core.errors import AtCoreError, DecodeError
from at_core.events import Event, RejectedInputEvent
from at_core.ids import derive_id
from at_core.metrics.catalog import Metrics
from at_core.runtime.acks import AckWaiter
from at_core.runtime.logging import bind_event_context, get_logger
from at_core.runtime.settings import ServiceSettings
from at_core.serialization import decode_event, encode_event

log = get_logger("at_core.bus")


class BusError(AtCoreError):
    """The bus could not do what was asked."""


class PublishError(BusError):
    """An event could not be made durable (or sent, for core subjects)."""

    def __init__(self, event_id: str, subject: str, reason: str, published: int = 0) -> None:
        self.event_id = event_id
        self.subject = subject
        self.reason = reason
        #: In :meth:`EventBus.publish_many`: how many events before this one were acknowledged.
        self.published = published
        super().__init__(f"publish of {event_id} on {subject} failed: {reason}")


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


@dataclass(frozen=True, slots=True)
class ConsumerHealth:
    """What :meth:`EventBus.consumer_health` found about one durable consumer."""

    durable: str
    stream: str
    #: The durable exists on the server (deleted: nothing is delivered, ever).
    exists: bool
    #: This process's pull loop for it is running.
    running: bool
    #: Messages the server has not yet delivered, and delivered but not yet acknowledged.
    pending: int
    ack_pending: int
    #: Work is waiting and the consumer's ack floor has not moved for ``stall_after_s``.
    stalled: bool
    #: A short reason when not healthy: ``missing``, ``not_running``, ``stalled``, ``unreachable``.
    problem: str | None = None

    @property
    def healthy(self) -> bool:
        return self.problem is None


Handler = Callable[[Event, Delivery], Awaitable[None]]
#: Takes a fetched batch at once; all of it is acked when it returns, all naked when it raises.
BatchHandler = Callable[[Sequence[tuple[Event, Delivery]]], Awaitable[None]]


def subject_family(subject: str) -> str:
    """First two tokens (``at.signal``): a bounded label value for metrics."""
    return ".".join(subject.split(".")[:2])


def stream_config(spec: subjects.StreamSpec, replicas: int = 1) -> StreamConfig:
    """The JetStream configuration of one stream spec."""
    return StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        description=spec.description,
        storage=StorageType.FILE,
        max_age=float(spec.max_age_s),
        max_bytes=spec.max_bytes,
        max_msgs=spec.max_msgs,
        discard=DiscardPolicy.OLD,
        duplicate_window=float(spec.duplicate_window_s),
        num_replicas=replicas,
    )


def _stream_differs(have: StreamConfig, want: StreamConfig) -> bool:
    return (
        sorted(have.subjects or []) != sorted(want.subjects or [])
        or have.description != want.description
        or have.max_age != want.max_age
        or (have.max_bytes or -1) != want.max_bytes
        or (have.max_msgs or -1) != want.max_msgs
        or have.duplicate_window != want.duplicate_window
        or (have.num_replicas or 1) != (want.num_replicas or 1)
    )


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


def event_headers(event: Event) -> dict[str, str]:
    headers = {
        subjects.HEADER_MSG_ID: event.event_id,
        subjects.HEADER_EVENT_TYPE: event.event_type,
        subjects.HEADER_CORRELATION_ID: event.correlation_id,
        subjects.HEADER_SCHEMA_VERSION: str(event.schema_version),
    }
    if event.causation_id:
        headers[subjects.HEADER_CAUSATION_ID] = event.causation_id
    return headers


#: How long each step of closing (unsubscribe, drain, close) may take before it is abandoned.
CLOSE_STEP_TIMEOUT_S = 5.0
#: How many times stopping a consumer cancels its loop before giving up on it.
STOP_ATTEMPTS = 3


#: How much of a misrouted message's bytes its dead letter keeps.
DEAD_LETTER_BODY_CHARS = 4096
#: The inbox prefix of a service's connection is ``_INBOX.<service>``: each NATS user may
#: subscribe only to its own replies (see :mod:`at_core.permissions`), never to another's.
INBOX_ROOT = "_INBOX"


def inbox_prefix(service: str) -> str:
    """The inbox prefix a service's connection uses (replies and pull deliveries come there)."""
    return f"{INBOX_ROOT}.{subjects.escape_token(service)}"


class Consumer:
    """A running durable consumer; ``stop()`` ends its loop."""

    def __init__(
        self,
        task: asyncio.Task[None],
        sub: JetStreamContext.PullSubscription,
        stopping: asyncio.Event,
        durable: str = "",
        stream: str = "",
    ) -> None:
        self._task = task
        self._sub = sub
        self._stopping = stopping
        self.durable = durable
        self.stream = stream

    async def stop(self) -> None:
        """End the loop (bounded), then unsubscribe (bounded)."""
        self._stopping.set()
        # A cancel can be swallowed: nats-py's fetch waits in asyncio.wait_for, which in Python 3.11
        # returns a message that arrived as the cancel did and drops the cancel (CPython
        # gh-86296); the loop then fetches again. The flag ends it at its next turn; the cancel
        # is sent again until it lands.
        for _ in range(STOP_ATTEMPTS):
            self._task.cancel()
            done, _ = await asyncio.wait({self._task}, timeout=CLOSE_STEP_TIMEOUT_S)
            if done:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    self._task.result()
                break
        else:
            log.error("consumer_did_not_stop", task=self._task.get_name())
        with contextlib.suppress(Exception):  # bounded: a dead connection must not hold a shutdown
            await asyncio.wait_for(self._sub.unsubscribe(), CLOSE_STEP_TIMEOUT_S)

    @property
    def running(self) -> bool:
        return not self._task.done()


class EventBus:
    """Typed publish/consume over one NATS connection."""

    def __init__(self, nc: NatsClient, service: str, metrics: Metrics, *, create_consumers: bool = False) -> None:
        """Args:
        create_consumers: create a missing durable instead of refusing to start: only for
            the provisioning step and tests (a service's NATS user may not create consumers;
            its durables are made by ``at-core-provision``).
        """
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream()
        self.service = service
        self.metrics = metrics
        self.create_consumers = create_consumers
        self._consumers: list[Consumer] = []
        self._acks = AckWaiter(nc)
        #: durable -> (ack floor stream sequence, monotonic time it last moved or work arrived)
        self._progress: dict[str, tuple[int, float]] = {}

    @classmethod
    async def connect(
        cls,
        servers: Sequence[str] | str,
        *,
        service: str,
        metrics: Metrics,
        user: str | None = None,
        password: str | None = None,
        connect_timeout: float = 2.0,
        max_reconnect_attempts: int = -1,
        reconnect_time_wait: float = 0.5,
        initial_connect_deadline_s: float = 0.0,
        create_consumers: bool = False,
    ) -> EventBus:
        """Connect, retrying reconnects forever by default; connection state goes to a gauge.

        Args:
            initial_connect_deadline_s: keep retrying the *first* connection for this long
                (a service started before its nats-server, as in a Procfile or compose).

        Raises:
            BusError: the first connection could not be made in time.
        """
        connected = metrics.gauge("nats_connected")
        reconnects = metrics.counter("nats_reconnects_total")

        async def on_disconnect() -> None:
            connected.set(0)
            log.warning("nats_disconnected")

        async def on_reconnect() -> None:
            connected.set(1)
            reconnects.inc()
            log.info("nats_reconnected")

        async def on_error(exc: Exception) -> None:
            log.warning("nats_error", error=str(exc))

        deadline = time.monotonic() + initial_connect_deadline_s
        while True:
            try:
                nc = await cls._connect_once(
                    servers,
                    service,
                    user,
                    password,
                    connect_timeout,
                    max_reconnect_attempts,
                    reconnect_time_wait,
                    on_disconnect,
                    on_reconnect,
                    on_error,
                )
                break
            except BusError:
                if time.monotonic() >= deadline:
                    raise
                log.warning("nats_connect_retry", servers=str(servers))
                await asyncio.sleep(0.5)
        connected.set(1)
        return cls(nc, service, metrics, create_consumers=create_consumers)

    @classmethod
    async def from_settings(cls, settings: ServiceSettings, *, service: str, metrics: Metrics) -> EventBus:
        """Connect with a service's settings (URLs, credentials, timeouts, first-connect deadline)."""
        return await cls.connect(
            settings.nats_servers,
            service=service,
            metrics=metrics,
            user=settings.nats_user,
            password=settings.nats_password.get_secret_value() if settings.nats_password else None,
            connect_timeout=settings.nats_connect_timeout_s,
            initial_connect_deadline_s=settings.nats_initial_connect_deadline_s,
        )

    @staticmethod
    async def _connect_once(
        servers: Sequence[str] | str,
        service: str,
        user: str | None,
        password: str | None,
        connect_timeout: float,
        max_reconnect_attempts: int,
        reconnect_time_wait: float,
        on_disconnect: Callable[[], Awaitable[None]],
        on_reconnect: Callable[[], Awaitable[None]],
        on_error: Callable[[Exception], Awaitable[None]],
    ) -> NatsClient:
        try:
            nc = await nats.connect(
                servers=[servers] if isinstance(servers, str) else list(servers),
                name=service,
                inbox_prefix=inbox_prefix(service),
                user=user,
                password=password,
                connect_timeout=connect_timeout,
                # nats-py >= 2.16 retries a failed *first* connection forever when reconnects are
                # unbounded; the first attempt is bounded here (the caller's deadline loop retries),
                # and the configured reconnect policy applies once connected.
                max_reconnect_attempts=1,
                reconnect_time_wait=reconnect_time_wait,
                allow_reconnect=True,
                disconnected_cb=on_disconnect,
                reconnected_cb=on_reconnect,
                error_cb=on_error,
            )
        except Exception as exc:  # nats raises several unrelated types here
            raise BusError(f"cannot connect to NATS at {servers}: {exc}") from exc
        nc.options["max_reconnect_attempts"] = max_reconnect_attempts
        return nc

    @property
    def connected(self) -> bool:
        return bool(self.nc.is_connected)

    async def ensure_streams(
        self, specs: Sequence[subjects.StreamSpec] = subjects.STREAMS, replicas: int = 1, *, migrate: bool = False
    ) -> None:
        """Check the streams exist; create a missing one; with ``migrate``, update a changed one.

        A service calls this at start and only reads (``STREAM.INFO``): its NATS user may not
        create or update streams, so a missing stream is refused by the server and raised here.
        The provisioning step (``at-core-provision``, admin credentials) calls it with ``migrate``.

        Raises:
            BusError: a stream is missing and could not be created.
        """
        for spec in specs:
            config = stream_config(spec, replicas)
            try:
                info = await self.js.stream_info(spec.name)
            except NotFoundError:
                try:
                    await self.js.add_stream(config)
                except Exception as exc:
                    raise BusError(
                        f"stream {spec.name} is missing and cannot be created here ({exc!r}): "
                        "run the provisioning step (at-core-provision)"
                    ) from exc
                continue
            if migrate and _stream_differs(info.config, config):
                await self.js.update_stream(config)
                log.info("stream_migrated", stream=spec.name)

    async def streams_present(self, specs: Sequence[subjects.StreamSpec] = subjects.STREAMS) -> bool:
        try:
            for spec in specs:
                await self.js.stream_info(spec.name)
        except Exception:
            return False
        return True

    async def publish(self, event: Event, *, subject: str | None = None, timeout: float = 5.0) -> PubAck | None:
        """Publish an event; JetStream-acknowledged when a stream captures its subject.

        Returns:
            The JetStream ack (``duplicate`` is True when JetStream dropped a repeat), or
            None for a core-NATS subject.

        Raises:
            PublishError: not acknowledged within ``timeout`` or refused.
        """
        subject = subject or subjects.subject_for(event)
        payload = encode_event(event)
        headers = event_headers(event)
        try:
            if subjects.stream_for_subject(subject) is None:
                await self.nc.publish(subject, payload, headers=headers)
                ack = None
            else:
                ack = await self.js.publish(subject, payload, timeout=timeout, headers=headers)
        except Exception as exc:
            self._published(event, subject, None, exc)
            raise PublishError(event.event_id, subject, repr(exc)) from exc
        self._published(event, subject, ack, None)
        return ack

    async def publish_many(self, events: Sequence[Event], *, timeout: float = 5.0) -> list[PubAck | None]:
        """Publish ``events`` in order, sent back to back with their JetStream acks awaited together.

        One round trip for the lot instead of one per event; the server stores them in the order
        sent. Acks are checked in order, so what is reported published is always a prefix.

        Returns:
            Each event's ack (None for a core-NATS subject), in order.

        Raises:
            PublishError: for the first event not acknowledged within ``timeout`` (or refused);
                its ``published`` is how many before it were. Events after it may have been
                stored too: publishing them again is safe (their ids are their ``Nats-Msg-Id``).
        """
        pending: list[tuple[Event, str, asyncio.Future[PubAck] | None]] = []
        acks: list[PubAck | None] = []
        try:
            for event in events:
                subject = subjects.subject_for(event)
                payload, headers = encode_event(event), event_headers(event)
                try:
                    if subjects.stream_for_subject(subject) is None:
                        await self.nc.publish(subject, payload, headers=headers)
                        future = None
                    else:
                        reply, future = await self._acks.reply_to()
                        await self.nc.publish(subject, payload, reply=reply, headers=headers)
                except Exception as exc:
                    self._published(event, subject, None, exc)
                    raise PublishError(event.event_id, subject, repr(exc), len(acks)) from exc
                pending.append((event, subject, future))
            deadline = asyncio.get_running_loop().time() + timeout
            for event, subject, future in pending:
                ack = None
                if future is not None:
                    try:
                        left = max(0.0, deadline - asyncio.get_running_loop().time())
                        ack = await asyncio.wait_for(asyncio.shield(future), left)
                    except Exception as exc:
                        self._published(event, subject, None, exc)
                        raise PublishError(event.event_id, subject, repr(exc), len(acks)) from exc
                self._published(event, subject, ack, None)
                acks.append(ack)
        finally:
            for _, _, future in pending:  # abandoned after a failure: a late reply finds nothing
                if future is not None and not future.done():
                    future.cancel()
        return acks

    def _published(self, event: Event, subject: str, ack: PubAck | None, error: Exception | None) -> None:
        """Count and log one publish's outcome (an ack, or the error)."""
        counter = self.metrics.counter("events_published_total")
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

    async def consume(
        self,
        subject_filter: str,
        handler: Handler,
        *,
        durable: str,
        stream: str | None = None,
        batch: int = 64,
        ack_wait_s: float = 30.0,
        max_deliver: int = 10,
        nak_delay_s: float = 1.0,
        deliver_policy: DeliverPolicy = DeliverPolicy.ALL,
    ) -> Consumer:
        """Start a durable pull consumer on ``subject_filter`` and hand each event to ``handler``.

        Replicas that use the same ``durable`` share the work (each message goes to one).
        Messages are handled one at a time, in stream order, per consumer.
        """
        sub, stream_name = await self._subscribe(
            subject_filter, durable, stream, ack_wait_s, max_deliver, deliver_policy
        )

        async def each(msgs: list[Msg]) -> None:
            for msg in msgs:
                await self._handle(msg, handler, nak_delay_s)

        return self._start(sub, each, batch, durable, stream_name)

    async def consume_batches(
        self,
        subject_filter: str,
        handler: BatchHandler,
        *,
        durable: str,
        stream: str | None = None,
        batch: int = 256,
        ack_wait_s: float = 30.0,
        max_deliver: int = 10,
        nak_delay_s: float = 1.0,
        deliver_policy: DeliverPolicy = DeliverPolicy.ALL,
        deliver_misrouted: bool = False,
    ) -> Consumer:
        """Like :meth:`consume`, but ``handler`` gets each fetched batch (up to ``batch``) at once.

        The events come in stream order. When the handler returns, every one is acked; when
        it raises, every one is naked and redelivered, so the handler must be idempotent per
        event (as every handler must: JetStream delivers at least once).

        Args:
            deliver_misrouted: hand misrouted events to the handler too, with
                ``Delivery.origin_violation`` set (the recorder keeps and flags them); by
                default they are dead-lettered and never handed over.
        """
        sub, stream_name = await self._subscribe(
            subject_filter, durable, stream, ack_wait_s, max_deliver, deliver_policy
        )

        async def together(msgs: list[Msg]) -> None:
            await self._handle_batch(msgs, handler, nak_delay_s, deliver_misrouted)

        return self._start(sub, together, batch, durable, stream_name)

    async def _subscribe(
        self,
        subject_filter: str,
        durable: str,
        stream: str | None,
        ack_wait_s: float,
        max_deliver: int,
        deliver_policy: DeliverPolicy,
    ) -> tuple[JetStreamContext.PullSubscription, str]:
        """Bind to the existing durable ``durable`` (created by provisioning, never here).

        Raises:
            BusError: the durable does not exist (and this bus may not create it), or it filters
                other subjects than asked.
        """
        stream_name = stream or self._stream_name(subject_filter)
        try:
            info = await self.js.consumer_info(stream_name, durable)
        except (TimeoutError, NatsTimeoutError) as exc:  # no answer: the server refused the request
            raise BusError(
                f"durable consumer {durable} on {stream_name} cannot be looked up (not granted to "
                f"{self.service}, or NATS is unavailable): {exc!r}"
            ) from exc
        except NotFoundError:
            if not self.create_consumers:
                raise BusError(
                    f"durable consumer {durable} on {stream_name} does not exist: "
                    "run the provisioning step (at-core-provision) before the services"
                ) from None
            config = ConsumerConfig(
                durable_name=durable,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=ack_wait_s,
                max_deliver=max_deliver,
                deliver_policy=deliver_policy,
                filter_subject=subject_filter,
            )
            try:
                await self.js.add_consumer(stream_name, config)
            except BadRequestError as exc:
                raise BusError(f"cannot create consumer {durable} on {subject_filter}: {exc}") from exc
        else:
            have = info.config
            if have.filter_subject != subject_filter and subject_filter not in (have.filter_subjects or []):
                raise BusError(f"durable {durable} filters {have.filter_subject}, not {subject_filter}")
            if have.ack_wait != ack_wait_s or have.max_deliver != max_deliver:
                log.warning(
                    "consumer_config_differs",
                    durable=durable,
                    ack_wait_s=have.ack_wait,
                    max_deliver=have.max_deliver,
                    asked_ack_wait_s=ack_wait_s,
                    asked_max_deliver=max_deliver,
                )
        sub = await self.js.pull_subscribe_bind(durable=durable, stream=stream_name)
        return sub, stream_name

    def _start(
        self,
        sub: JetStreamContext.PullSubscription,
        on_msgs: Callable[[list[Msg]], Awaitable[None]],
        batch: int,
        durable: str,
        stream: str,
    ) -> Consumer:
        stopping = asyncio.Event()
        task = asyncio.create_task(self._pull_loop(sub, on_msgs, batch, stopping), name=f"consumer:{durable}")
        consumer = Consumer(task, sub, stopping, durable, stream)
        self._consumers.append(consumer)
        return consumer

    def _stream_name(self, subject_filter: str) -> str:
        probe = subject_filter.replace(">", "x").replace("*", "x")
        spec = subjects.stream_for_subject(probe)
        if spec is None:
            raise BusError(f"no stream captures {subject_filter}")
        return spec.name

    async def _pull_loop(
        self,
        sub: JetStreamContext.PullSubscription,
        on_msgs: Callable[[list[Msg]], Awaitable[None]],
        batch: int,
        stopping: asyncio.Event,
    ) -> None:
        while not stopping.is_set():
            try:
                msgs = await sub.fetch(batch, timeout=1.0)
            except (TimeoutError, NatsTimeoutError):
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # disconnected, consumer deleted: wait and retry
                log.warning("consumer_fetch_failed", error=repr(exc))
                await asyncio.sleep(0.5)
                continue
            try:
                await on_msgs(msgs)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # an ack or nak lost with the connection: never end the consumer
                # What was not acknowledged comes again after ack_wait; handlers are idempotent.
                log.warning("consumer_batch_interrupted", messages=len(msgs), error=repr(exc))

    async def _open(self, msg: Msg, deliver_misrouted: bool = False) -> tuple[Event, Delivery] | None:
        """Decode and check a message; None when it must not reach the handler.

        Undecodable bytes are terminated, counted and logged. An event whose type does not
        belong to the subject family it arrived on is dead-lettered, counted and terminated
        (unless ``deliver_misrouted``: then it is handed over with ``origin_violation`` set).
        """
        try:
            event = decode_event(msg.data)
        except DecodeError as exc:
            self.metrics.counter("events_consumed_total").labels(
                exc.event_type or "unknown", subject_family(msg.subject), "undecodable"
            ).inc()
            log.error("event_undecodable", subject=msg.subject, error=exc.reason[:500])
            await msg.term()
            return None
        meta: Any = msg.metadata
        violation = subjects.origin_violation(event.event_type, msg.subject)
        delivery = Delivery(
            subject=msg.subject,
            stream=meta.stream,
            stream_sequence=meta.sequence.stream,
            num_delivered=meta.num_delivered,
            headers=dict(msg.headers or {}),
            origin_violation=violation,
        )
        if violation is not None:
            await self._misrouted(event, msg.subject, msg.data, violation, dead_letter=not deliver_misrouted)
            if not deliver_misrouted:
                await msg.term()
                return None
        if delivery.num_delivered > 1:
            self.metrics.counter("event_redeliveries_total").labels(event.event_type).inc()
        return event, delivery

    async def _misrouted(
        self, event: Event, subject: str, data: bytes, reason: str, *, dead_letter: bool = True
    ) -> None:
        """Count and log an event that arrived where it may not come from, and dead-letter it.

        Raises:
            PublishError: the dead letter could not be stored (the message is then naked and
                comes again: a forged event is never silently dropped).
        """
        family = subject_family(subject)
        self.metrics.counter("events_misrouted_total").labels(event.event_type, family, reason).inc()
        self.metrics.counter("events_consumed_total").labels(event.event_type, family, "misrouted").inc()
        with bind_event_context(event.event_id, event.correlation_id, event.causation_id):
            log.error("event_misrouted", event_type=event.event_type, subject=subject, reason=reason)
        if dead_letter:
            await self.publish(misrouted_dead_letter(self.service, event, subject, data, reason))

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
        self.metrics.histogram("event_handle_seconds").labels(event.event_type).observe(seconds)
        counter = self.metrics.counter("events_consumed_total")
        if error is not None:
            counter.labels(event.event_type, subject_family(subject), "error").inc()
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
        counter.labels(event.event_type, subject_family(subject), "ok").inc()
        # debug: one line per consumed event doubled every service's log volume and cost the
        # recorder a fifth of its CPU; handlers log what they did, the audit trail has every event.
        log.debug("event_consumed", event_type=event.event_type, subject=subject)

    async def _handle(self, msg: Msg, handler: Handler, nak_delay_s: float) -> None:
        try:
            opened = await self._open(msg)
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
                item = await self._open(msg, deliver_misrouted)
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

    async def read_stream(
        self,
        stream: str,
        subject_filter: str = subjects.ALL,
        *,
        deliver_policy: DeliverPolicy = DeliverPolicy.ALL,
        fetch_timeout_s: float = 2.0,
    ) -> AsyncIterator[tuple[Event, Delivery]]:
        """Read ``stream`` once, in order, through an ephemeral consumer (recovery at start).

        The same checks as live consumption apply: undecodable bytes are skipped and counted,
        an event on a subject it may not come from is dead-lettered and never yielded. The
        read ends at the last message the stream held when it began.

        Raises:
            BusError: the stream cannot be read (missing, or not granted to this service).
        """
        try:
            info = await self.js.stream_info(stream)
        except Exception as exc:
            raise BusError(f"cannot read stream {stream}: {exc!r}") from exc
        last = info.state.last_seq
        if info.state.messages == 0:
            return
        config = ConsumerConfig(
            ack_policy=AckPolicy.NONE,
            deliver_policy=deliver_policy,
            inactive_threshold=30.0,
            mem_storage=True,
        )
        try:
            sub = await self.js.pull_subscribe(subject_filter, stream=stream, config=config)
        except Exception as exc:
            raise BusError(f"cannot read stream {stream}: {exc!r}") from exc
        try:
            while True:
                try:
                    msgs = await sub.fetch(256, timeout=fetch_timeout_s)
                except (TimeoutError, NatsTimeoutError):
                    return
                for msg in msgs:
                    seq = msg.metadata.sequence.stream
                    opened = await self._open_for_read(msg)
                    if opened is not None:
                        yield opened
                    if seq >= last:
                        return
                if msgs and msgs[-1].metadata.num_pending == 0:
                    return
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sub.unsubscribe(), CLOSE_STEP_TIMEOUT_S)

    async def _open_for_read(self, msg: Msg) -> tuple[Event, Delivery] | None:
        """:meth:`_open` for an unacknowledged read: nothing to ack or terminate."""
        try:
            event = decode_event(msg.data)
        except DecodeError as exc:
            self.metrics.counter("events_consumed_total").labels(
                exc.event_type or "unknown", subject_family(msg.subject), "undecodable"
            ).inc()
            log.error("event_undecodable", subject=msg.subject, error=exc.reason[:500])
            return None
        violation = subjects.origin_violation(event.event_type, msg.subject)
        if violation is not None:
            await self._misrouted(event, msg.subject, msg.data, violation)
            return None
        meta: Any = msg.metadata
        return event, Delivery(
            subject=msg.subject,
            stream=meta.stream,
            stream_sequence=meta.sequence.stream,
            num_delivered=meta.num_delivered,
            headers=dict(msg.headers or {}),
        )

    async def consumer_health(
        self, durable: str, *, stall_after_s: float = 60.0, timeout: float = 1.0
    ) -> ConsumerHealth:
        """Whether this service's durable ``durable`` exists on the server and is making progress.

        For ``/readyz``: red when the durable was deleted (nothing would ever be delivered),
        when this process's loop for it ended, or when messages wait and its ack floor has not
        moved for ``stall_after_s`` (a handler stuck, or every message failing). Bounded by
        ``timeout``: an unreachable server answers ``unreachable``, never hangs the probe.

        Raises:
            BusError: ``durable`` is not consumed by this bus.
        """
        consumer = next((c for c in self._consumers if c.durable == durable), None)
        if consumer is None:
            raise BusError(f"{durable} is not consumed by this bus")
        base = functools.partial(ConsumerHealth, durable, consumer.stream, running=consumer.running)
        try:
            info = await self.js.consumer_info(consumer.stream, durable, timeout=timeout)
        except NotFoundError:
            return base(exists=False, pending=0, ack_pending=0, stalled=False, problem="missing")
        except Exception:
            return base(exists=True, pending=0, ack_pending=0, stalled=False, problem="unreachable")
        pending, ack_pending = int(info.num_pending or 0), int(info.num_ack_pending or 0)
        floor = int(info.ack_floor.stream_seq if info.ack_floor else 0)
        now = time.monotonic()
        seen_floor, since = self._progress.get(durable, (floor, now))
        if floor != seen_floor or (pending == 0 and ack_pending == 0):
            since = now
        self._progress[durable] = (floor, since)
        stalled = (pending > 0 or ack_pending > 0) and now - since >= stall_after_s
        problem = "not_running" if not consumer.running else "stalled" if stalled else None
        return base(exists=True, pending=pending, ack_pending=ack_pending, stalled=stalled, problem=problem)

    async def consumers_health(self, *, stall_after_s: float = 60.0, timeout: float = 1.0) -> list[ConsumerHealth]:
        """:meth:`consumer_health` of every durable this bus consumes."""
        return [
            await self.consumer_health(c.durable, stall_after_s=stall_after_s, timeout=timeout) for c in self._consumers
        ]

    async def close(self) -> None:
        """Stop consumers, flush and close the connection."""
        for consumer in self._consumers:
            await consumer.stop()
        self._consumers.clear()
        try:  # drain flushes what was published; bounded, so a lost server cannot hang a shutdown
            await asyncio.wait_for(self.nc.drain(), CLOSE_STEP_TIMEOUT_S)
        except Exception as exc:  # TimeoutError, or reconnecting: close without draining
            log.warning("nats_drain_failed", error=repr(exc))
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.nc.close(), CLOSE_STEP_TIMEOUT_S)
        self.metrics.gauge("nats_connected").set(0)
