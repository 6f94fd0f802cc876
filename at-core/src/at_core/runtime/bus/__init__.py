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

The modules, one part each: ``connection`` (connect, inbox prefix, close), ``publishing``,
``consuming`` (durable binding, acks), ``pull`` (a running consumer: its pull loop and stop), ``origin`` (decode and origin checks, dead
letters), ``reading`` (a stream read once), ``streams`` (stream configuration), ``health``
(consumer health), ``event_bus`` (:class:`EventBus`, composing them). Import from here.
"""

from __future__ import annotations

from at_core.runtime.bus.connection import CLOSE_STEP_TIMEOUT_S, INBOX_ROOT, ConnectOptions, inbox_prefix
from at_core.runtime.bus.consuming import DurableOptions
from at_core.runtime.bus.delivery import BatchHandler, Delivery, Handler, subject_family
from at_core.runtime.bus.errors import BusError, PublishError
from at_core.runtime.bus.event_bus import EventBus
from at_core.runtime.bus.health import ConsumerHealth
from at_core.runtime.bus.origin import DEAD_LETTER_BODY_CHARS, misrouted_dead_letter
from at_core.runtime.bus.publishing import event_headers
from at_core.runtime.bus.pull import STOP_ATTEMPTS, Consumer
from at_core.runtime.bus.streams import stream_config, stream_differs

__all__ = [
    "CLOSE_STEP_TIMEOUT_S",
    "DEAD_LETTER_BODY_CHARS",
    "INBOX_ROOT",
    "STOP_ATTEMPTS",
    "BatchHandler",
    "BusError",
    "ConnectOptions",
    "Consumer",
    "ConsumerHealth",
    "Delivery",
    "DurableOptions",
    "EventBus",
    "Handler",
    "PublishError",
    "event_headers",
    "inbox_prefix",
    "misrouted_dead_letter",
    "stream_config",
    "stream_differs",
    "subject_family",
]
