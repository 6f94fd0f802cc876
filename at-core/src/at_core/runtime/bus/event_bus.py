"""The :class:`EventBus`: one NATS connection, and the bus's parts composed on it.

Publishing (:mod:`.publishing`), consuming and durable binding (:mod:`.consuming`), origin
checks (:mod:`.origin`), stream reading (:mod:`.reading`), stream checks (:mod:`.streams`) and
consumer health (:mod:`.health`) are each their own object or function; this class holds the
connection they share and is what services use.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy, PubAck

from at_core import subjects
from at_core.events import Event
from at_core.metrics.catalog import Metrics
from at_core.runtime.bus import reading, streams
from at_core.runtime.bus.connection import ConnectOptions, close_connection, open_connection
from at_core.runtime.bus.consuming import Consuming, DurableOptions
from at_core.runtime.bus.delivery import BatchHandler, Delivery, Handler
from at_core.runtime.bus.errors import BusError
from at_core.runtime.bus.health import ConsumerHealth, ProgressWatch
from at_core.runtime.bus.origin import OriginCheck
from at_core.runtime.bus.publishing import Publisher
from at_core.runtime.bus.pull import Consumer
from at_core.runtime.settings import ServiceSettings


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
        self._publisher = Publisher(nc, self.js, metrics)
        self._origin = OriginCheck(service, metrics, self.publish)
        self._consuming = Consuming(self.js, service, metrics, self._origin, create=create_consumers)
        self._progress = ProgressWatch()

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
        options = ConnectOptions(
            servers,
            service,
            user=user,
            password=password,
            connect_timeout=connect_timeout,
            max_reconnect_attempts=max_reconnect_attempts,
            reconnect_time_wait=reconnect_time_wait,
            initial_connect_deadline_s=initial_connect_deadline_s,
        )
        nc = await open_connection(options, metrics)
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

    @property
    def connected(self) -> bool:
        return bool(self.nc.is_connected)

    @property
    def create_consumers(self) -> bool:
        """Whether a missing durable is created (provisioning, tests) rather than refused."""
        return self._consuming.create

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
        await streams.ensure_streams(self.js, specs, replicas, migrate=migrate)

    async def publish(
        self, event: Event, *, subject: str | None = None, timeout: float = 5.0, msg_id: str | None = None
    ) -> PubAck | None:
        """Publish an event; JetStream-acknowledged when a stream captures its subject.

        ``msg_id`` is the ``Nats-Msg-Id`` (JetStream's de-duplication key within the stream's
        ``duplicate_window``); by default the event id. The gateway passes one derived from the
        alert, so a repeated alert is dropped by JetStream itself.

        Returns:
            The JetStream ack (``duplicate`` is True when JetStream dropped a repeat), or
            None for a core-NATS subject.

        Raises:
            PublishError: not acknowledged within ``timeout`` or refused.
        """
        return await self._publisher.publish(event, subject=subject, timeout=timeout, msg_id=msg_id)

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
        return await self._publisher.publish_many(events, timeout=timeout)

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

        Raises:
            BusError: the durable does not exist (made by provisioning), or filters other subjects.
        """
        options = DurableOptions(subject_filter, durable, ack_wait_s, max_deliver, deliver_policy)
        return await self._consuming.consume(options, stream, handler, batch, nak_delay_s)

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
        linger_s: float = 0.0,
    ) -> Consumer:
        """Like :meth:`consume`, but ``handler`` gets each fetched batch (up to ``batch``) at once.

        The events come in stream order. When the handler returns, every one is acked; when
        it raises, every one is naked and redelivered, so the handler must be idempotent per
        event (as every handler must: JetStream delivers at least once).

        Args:
            deliver_misrouted: hand misrouted events to the handler too, with
                ``Delivery.origin_violation`` set (the recorder keeps and flags them); by
                default they are dead-lettered and never handed over.
            linger_s: a batch's first message waits this long for more to join it (unless a
                whole batch is there): fewer, larger batches, for a consumer off the latency
                path (the recorder). 0, the default, hands over what has arrived at once.
        """
        options = DurableOptions(subject_filter, durable, ack_wait_s, max_deliver, deliver_policy)
        return await self._consuming.consume_batches(
            options, stream, handler, batch, nak_delay_s, deliver_misrouted, linger_s
        )

    def read_stream(
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
        return reading.read_stream(self.js, self._origin, stream, subject_filter, deliver_policy, fetch_timeout_s)

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
        consumer = next((c for c in self._consuming.consumers if c.durable == durable), None)
        if consumer is None:
            raise BusError(f"{durable} is not consumed by this bus")
        return await self._progress.health(self.js, consumer, stall_after_s=stall_after_s, timeout=timeout)

    async def consumers_health(self, *, stall_after_s: float = 60.0, timeout: float = 1.0) -> list[ConsumerHealth]:
        """:meth:`consumer_health` of every durable this bus consumes."""
        return [
            await self.consumer_health(c.durable, stall_after_s=stall_after_s, timeout=timeout)
            for c in self._consuming.consumers
        ]

    async def close(self) -> None:
        """Stop consumers, flush and close the connection."""
        await self._consuming.stop_all()
        await close_connection(self.nc, self.metrics)
