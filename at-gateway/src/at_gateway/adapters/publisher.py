"""Make an event durable: JetStream if it acknowledges in time, else the local outbox.

An event goes straight to the outbox, without trying JetStream, only while the outbox holds an
earlier event of its ordering lane (``domain/lanes.py``: its account and instrument), or one of
no lane: the order that matters, per position, is kept, and one position's slow ack does not
send every other position's alerts to disk. An event whose lane has an earlier publish still in
flight waits for its answer first (``InFlight``): were that one to fail into the outbox, a later
one taken by JetStream meanwhile would be ahead of it.
"""

from __future__ import annotations

import asyncio
import contextlib

from at_core.events import Event
from at_core.metrics import Metrics
from at_core.runtime.bus import EventBus, PublishError
from at_core.runtime.logging import get_logger
from at_core.serialization import decode_event, encode_event
from at_gateway.adapters.in_flight import InFlight
from at_gateway.adapters.outbox import Outbox
from at_gateway.domain.lanes import Lane, lane_of
from at_gateway.errors import NotDurable, Stored

log = get_logger("at_gateway.publisher")


class DurablePublisher:
    """Publishes to JetStream; on failure (or while older events of its lane wait) appends to the outbox."""

    def __init__(self, bus: EventBus | None, outbox: Outbox, metrics: Metrics, timeout_s: float) -> None:
        self.bus = bus
        self.outbox = outbox
        self.metrics = metrics
        self.timeout_s = timeout_s
        self._drainer: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.in_flight = InFlight()

    async def publish(self, event: Event, budget_s: float | None = None, msg_id: str | None = None) -> Stored:
        """Where the event went (``jetstream`` or ``outbox``); JetStream is waited for at most ``budget_s``.

        ``msg_id`` is the ``Nats-Msg-Id`` (default: the event id). With one, ``duplicate_of`` is the
        stream sequence of the message JetStream already held under it (within its duplicate
        window): this one was dropped.

        The event waits in the outbox, JetStream not tried, while the outbox holds an earlier event
        of its lane or one of no lane (an event of no lane waits while it holds anything); before
        that, it waits for the answer to any earlier publish of its lane still in flight (the time
        waited comes out of ``budget_s``).

        Raises:
            NotDurable: neither JetStream nor the outbox took it.
        """
        lane = lane_of(event)
        before, mine = self.in_flight.claim(lane)
        try:
            if before:  # an earlier publish of its lane is unanswered: its outcome decides this one's way
                started = asyncio.get_running_loop().time()
                await asyncio.wait(before)  # never cancels them: they answer within their own timeout
                if budget_s is not None:
                    budget_s -= asyncio.get_running_loop().time() - started
            return await self._publish(event, lane, budget_s, msg_id)
        finally:
            self.in_flight.release(lane, mine)

    async def _publish(self, event: Event, lane: Lane, budget_s: float | None, msg_id: str | None) -> Stored:
        timeout = self.timeout_s if budget_s is None else min(self.timeout_s, budget_s)
        if self.outbox.holds_back(lane):
            why = self.outbox.why(lane)
        elif self.bus is None or not self.bus.connected:
            why = "nats_down"
        elif timeout <= 0:
            why = "no_time_left"
        else:
            try:
                ack = await self.bus.publish(event, timeout=timeout, msg_id=msg_id)  # bounded by the ack timeout
            except (PublishError, TimeoutError):
                self.metrics.counter("publish_errors_total").inc()
                why = "publish_failed"
            else:
                dup = msg_id is not None and ack is not None and ack.duplicate
                return Stored("jetstream", ack.seq if dup and ack is not None else None)
        try:
            self.outbox.put(event.event_id, encode_event(event), msg_id, lane)
        except Exception as exc:
            raise NotDurable(str(exc)) from exc
        depth = self.outbox.depth()
        self.metrics.gauge("outbox_depth").set(depth)
        log.warning(
            "event_queued_in_outbox",
            event_id=event.event_id,
            reason=why,
            lane=lane,
            depth=depth,
            lanes=self.outbox.lanes(),
        )
        self._wake.set()
        return Stored("outbox")

    async def publish_best_effort(self, event: Event, budget_s: float | None = None) -> None:
        """For dead letters: publish if the bus is up, within ``budget_s``; never fail the request."""
        timeout = self.timeout_s if budget_s is None else min(self.timeout_s, budget_s)
        if self.bus is None or not self.bus.connected or timeout <= 0:
            return
        with contextlib.suppress(PublishError, TimeoutError):
            await self.bus.publish(event, timeout=timeout)

    def start(self) -> None:
        self._drainer = asyncio.create_task(self._drain_loop(), name="outbox-drain")

    async def stop(self) -> None:
        if self._drainer is not None:
            self._drainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drainer

    async def drain_once(self) -> int:
        """Publish queued events in order (all lanes, by insertion); stop at the first failure.

        Each row is deleted only once JetStream acknowledged it, under its own message id: a row
        published but not deleted (a crash) is dropped by JetStream's de-duplication when drained
        again. Returns how many went out."""
        if self.bus is None or not self.bus.connected:
            return 0
        sent = 0
        for seq, _event_id, data, msg_id in self.outbox.peek(200):
            try:
                await self.bus.publish(decode_event(data), timeout=max(self.timeout_s, 2.0), msg_id=msg_id)
            except PublishError:
                break
            self.outbox.delete(seq)
            sent += 1
        self.metrics.gauge("outbox_depth").set(self.outbox.depth())
        if sent:
            log.info("outbox_drained", sent=sent, depth=self.outbox.depth())
        return sent

    async def _drain_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.5)
            self._wake.clear()
            if self.outbox.depth():
                try:
                    await self.drain_once()
                except Exception as exc:  # keep draining on the next tick
                    log.warning("outbox_drain_failed", error=repr(exc))
