"""Drives a running stack over NATS: publishes inputs in order and captures the outputs they cause.

After each input the driver waits until the outputs the recording says it caused have arrived
(when known), then (``quiesce``) until every durable consumer of the stack has handled and
acknowledged everything, so the next input meets the state all the previous ones built, then
until no new output arrives for ``settle_s`` (a quiet period, to catch extras); all of it never
longer than ``timeout_s`` per input.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from nats.errors import Error as NatsError

from at_core import subjects
from at_core.errors import DecodeError
from at_core.events import Event, MarketDataBatchEvent
from at_core.runtime.acks import AckWaiter
from at_core.runtime.bus import event_headers
from at_core.serialization import decode_event, encode_event
from at_obs.adapters.nats_client import connect
from at_obs.adapters.quiescence import wait_quiescent
from at_obs.domain.replay import OUTPUT_TYPES


class ReplayDriver:
    """One connection to the stack under replay."""

    def __init__(self, url: str, user: str | None = None, password: str | None = None, *, quiesce: bool = True) -> None:
        self.url, self.user, self.password = url, user, password
        self.quiesce = quiesce
        self.quiesce_error: str | None = None
        self.still_busy: dict[str, list[str]] = {}
        #: Inputs JetStream acknowledged as duplicates (their event id was already in the stream):
        #: they reach no consumer, so cause no output (replaying into the stack that recorded them).
        self.duplicates: list[str] = []
        self.captured: list[Event] = []
        self._known: set[str] = set()
        self._correlations: set[str] = set()
        self._by_id: dict[str, Event] = {}
        self._arrived = asyncio.Event()

    def _on_output(self, event: Event) -> None:
        caused_here = event.causation_id in self._known or event.correlation_id in self._correlations
        if event.event_type not in OUTPUT_TYPES or not caused_here or event.event_id in self._known:
            return
        self.captured.append(event)
        self._known.add(event.event_id)
        self._by_id[event.event_id] = event
        self._arrived.set()

    def _count_caused_by(self, root: str, since: int) -> int:
        # Walked at check time: outputs of one input may arrive out of causal order.
        def root_of(event: Event) -> str | None:
            for _ in range(64):
                parent = self._by_id.get(event.causation_id or "")
                if parent is None:
                    return event.causation_id
                event = parent
            return None

        return sum(1 for e in self.captured[since:] if root_of(e) == root)

    async def run(
        self,
        inputs: list[Event],
        expected: Counter[str],
        *,
        settle_s: float,
        timeout_s: float,
        progress: Callable[[], Any] | None = None,
        quiesce_after: Callable[[Event], bool] | None = None,
    ) -> list[Event]:
        """Publish every input (JetStream-acked) and return the outputs captured, in arrival order.

        ``quiesce_after`` (at-backtest's hook): when given, the quiescence wait runs only after
        the inputs it returns True for (the caller guarantees the others cannot race).
        """
        nc = await connect(self.url, self.user, self.password, name="at-replay")
        try:
            js = nc.jetstream()

            async def on(msg: Any) -> None:
                kind = (msg.headers or {}).get(subjects.HEADER_EVENT_TYPE)
                if kind is not None and kind not in OUTPUT_TYPES:
                    return  # an input (its own, or a batch of bars): not decoded, never an output
                try:
                    self._on_output(decode_event(msg.data))
                except DecodeError:
                    return

            await nc.subscribe(subjects.ALL, cb=on)
            await nc.flush()
            acks = AckWaiter(nc)
            unacked: list[tuple[str, asyncio.Future[Any]]] = []
            for event in inputs:
                self._known.add(event.event_id)
                self._correlations.add(event.correlation_id)
                for member in event.events if isinstance(event, MarketDataBatchEvent) else ():
                    self._known.add(member.event_id)  # what a member causes names the member
                    self._correlations.add(member.correlation_id)
                since = len(self.captured)
                subject = subjects.subject_for(event)
                deadline = time.monotonic() + timeout_s
                if subjects.stream_for_subject(subject) is None:
                    await nc.publish(subject, encode_event(event), headers=event_headers(event))
                elif quiesce_after is not None and not quiesce_after(event) and settle_s <= 0:
                    # Nothing waits on this input: sent back to back, its ack awaited at the next barrier.
                    reply, future = await acks.reply_to()
                    await nc.publish(subject, encode_event(event), reply=reply, headers=event_headers(event))
                    unacked.append((event.event_id, future))
                    if progress is not None:
                        progress()
                    continue
                else:
                    reply, future = await acks.reply_to()
                    await nc.publish(subject, encode_event(event), reply=reply, headers=event_headers(event))
                    unacked.append((event.event_id, future))
                await self._stored(unacked, deadline)  # every earlier input is in its stream first
                await self._expected(event.event_id, since, expected[event.event_id], deadline)
                if quiesce_after is None or quiesce_after(event):
                    await self._quiesce(js, event.event_id, deadline)
                await nc.flush()  # outputs the server sent before this point are now ours
                await self._quiet(settle_s, deadline)
                if progress is not None:
                    progress()
        finally:
            await nc.drain()
        return self.captured

    async def _stored(self, unacked: list[tuple[str, asyncio.Future[Any]]], deadline: float) -> None:
        """Await the JetStream acks of the inputs sent so far, in order; raise the first refusal."""
        for event_id, future in unacked:
            ack = await asyncio.wait_for(future, max(0.001, deadline - time.monotonic()))
            if getattr(ack, "duplicate", False):
                self.duplicates.append(event_id)
        unacked.clear()

    async def _expected(self, root: str, since: int, want: int, deadline: float) -> None:
        while self._count_caused_by(root, since) < want:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._arrived.clear()
            if self._count_caused_by(root, since) >= want:
                return
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                return

    async def _quiesce(self, js: Any, root: str, deadline: float) -> None:
        if not self.quiesce:
            return
        try:
            busy = await wait_quiescent(js, max(0.0, deadline - time.monotonic()))
        except (NatsError, TimeoutError) as exc:  # no JetStream API rights: settle time only
            self.quiesce, self.quiesce_error = False, f"{type(exc).__name__}: {exc}"
            return
        if busy:
            self.still_busy[root] = busy

    async def _quiet(self, settle_s: float, deadline: float) -> None:
        while True:  # quiet period: no new output for settle_s
            left = min(settle_s, deadline - time.monotonic())
            if left <= 0:
                return
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                return
