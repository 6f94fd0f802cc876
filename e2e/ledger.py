"""What JetStream recorded: the system of record, read back by stream sequence.

The whole-stack tests judge outcomes by what the streams hold, not by what a core-NATS
subscriber happened to see: a subscriber misses what is published while it reconnects,
the streams do not. Each poll reads from the next unread sequence with a fresh ephemeral
consumer, so a restarted server or a lost cluster node only delays the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable, Sequence

import nats
from nats.aio.client import Client as NatsClient
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from at_core import subjects
from at_core.errors import DecodeError
from at_core.events import Event, FillEvent, OrderSubmitted
from at_core.serialization import decode_event

#: The streams an alert's story lives in: its signal, and what exec-sim did about it.
STORY_STREAMS = ("AT_SIGNALS", "AT_DECISIONS", "AT_EXECUTION")


class Ledger:
    """Events read back from JetStream streams, grouped by correlation id."""

    def __init__(self, servers: Sequence[str], user: str, password: str, streams: Sequence[str] = STORY_STREAMS):
        self.servers = list(servers)
        self.user = user
        self.password = password
        self.streams = tuple(streams)
        self.by_correlation: dict[str, list[Event]] = defaultdict(list)
        self.stored: dict[str, int] = dict.fromkeys(self.streams, 0)
        self._next_seq: dict[str, int] = dict.fromkeys(self.streams, 1)
        self._nc: NatsClient | None = None

    async def connect(self) -> Ledger:
        self._nc = await nats.connect(
            servers=self.servers,
            user=self.user,
            password=self.password,
            name="e2e-ledger",
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.25,
        )
        return self

    async def close(self) -> None:
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()
            self._nc = None

    async def refresh(self) -> None:
        """Read what the streams stored since the last call (what cannot be read now is read next time)."""
        for stream in self.streams:
            with contextlib.suppress(Exception):  # a stream or a node mid-election: the next poll catches up
                await self._read(stream)

    async def _read(self, stream: str) -> None:
        assert self._nc is not None, "connect() first"
        js = self._nc.jetstream()
        info = await js.stream_info(stream)
        if info.state.last_seq < self._next_seq[stream]:
            return
        sub = await js.pull_subscribe(
            subjects.ALL,
            stream=stream,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=self._next_seq[stream],
                ack_policy=AckPolicy.NONE,
                inactive_threshold=10.0,
                mem_storage=True,
                num_replicas=1,
            ),
        )
        try:
            while self._next_seq[stream] <= info.state.last_seq:
                for msg in await sub.fetch(1024, timeout=2.0):
                    self._next_seq[stream] = msg.metadata.sequence.stream + 1
                    self.stored[stream] += 1
                    with contextlib.suppress(DecodeError):
                        event = decode_event(msg.data)
                        self.by_correlation[event.correlation_id].append(event)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def wait_until(self, predicate: Callable[[Ledger], bool], timeout: float, poll_s: float = 0.25) -> bool:
        """Poll until ``predicate(self)`` holds or ``timeout`` passes; return whether it held."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            await self.refresh()
            if predicate(self):
                return True
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(poll_s)

    # --- what an alert became ---------------------------------------------------------------

    def events(self, correlation_id: str, event_type: str | None = None) -> list[Event]:
        return [e for e in self.by_correlation.get(correlation_id, []) if event_type in (None, e.event_type)]

    def orders(self, correlation_id: str) -> set[str]:
        """Client order ids submitted for one alert: two ids would be a doubled order."""
        return {e.client_order_id for e in self.events(correlation_id) if isinstance(e, OrderSubmitted)}

    def filled(self, correlation_id: str) -> set[str]:
        """Client order ids with at least one fill for one alert."""
        return {e.client_order_id for e in self.events(correlation_id) if isinstance(e, FillEvent)}

    def settled(self, correlation_ids: Sequence[str]) -> bool:
        """Every alert has its order and a fill for it (or something that would fail the check)."""
        return all(self.filled(c) or len(self.orders(c)) > 1 or self._denied(c) for c in correlation_ids)

    def _denied(self, correlation_id: str) -> bool:
        return any(not e.approved for e in self.events(correlation_id, "risk_decision"))  # type: ignore[attr-defined]

    def outcome(self, correlation_id: str) -> str:
        """One alert's story in event types, for failure messages."""
        return ",".join(e.event_type for e in self.by_correlation.get(correlation_id, [])) or "nothing stored"

    def not_exactly_one_filled_order(self, correlation_ids: Sequence[str]) -> dict[str, str]:
        """Alerts that did not end in exactly one order, filled: correlation id -> what happened."""
        bad = {}
        for c in correlation_ids:
            orders, filled = self.orders(c), self.filled(c)
            if len(orders) != 1 or filled != orders:
                bad[c] = f"orders={sorted(orders)} filled={sorted(filled)} story={self.outcome(c)}"
        return bad
