"""De-duplication of alerts: JetStream's own ``Nats-Msg-Id`` check, a KV record, a local record.

The check that stops a repeat is JetStream's: every signal of an alert is published with a
message id derived from the alert's key (:func:`signal_msg_id`), and within ``AT_SIGNALS``'
``duplicate_window`` (``subjects.SIGNALS_DUPLICATE_WINDOW_S``, read from the server at attach)
JetStream stores the first and acknowledges a repeat as ``duplicate``, atomically across
replicas, in the one round trip that publishes. No claim is made before the publish.

What JetStream's ack does not say is the first event id (the gateway may not read the stream
by sequence). It comes from, in order: this process's memory; the on-disk claims (the outbox's
``claims`` table, written when an alert went to the outbox); the shared KV bucket, written after
each accepted alert **off the answer path** (a background create) and read only for a repeat
(or, when ``dedup_window_s`` is longer than the stream's window, before publishing: then the KV
is the check beyond the stream's window, one more round trip per alert). Every await is bounded
by the caller's time budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections import OrderedDict

from nats.js.api import KeyValueConfig
from nats.js.errors import KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from at_core import subjects
from at_core.clock import Clock
from at_core.metrics import Metrics
from at_core.runtime.bus import EventBus
from at_core.runtime.logging import get_logger
from at_gateway.adapters.outbox import Outbox

log = get_logger("at_gateway.dedup")

_LOCAL_MAX = 100_000  # first event ids kept in memory (oldest dropped first: the KV and disk keep them)


def dedup_key(route: str, alert_id: str | None, raw: bytes) -> str:
    basis = f"id:{route}:{alert_id}".encode() if alert_id else b"body:" + route.encode() + b"\x00" + raw
    return hashlib.sha256(basis).hexdigest()


def signal_msg_id(key: str, account_id: str, strategy_id: str) -> str:
    """The ``Nats-Msg-Id`` of the signal an alert (``key``) makes for one routed target.

    From the route's target, never from the body: a repeat (same key) routed to the same
    targets gets the same ids, signal by signal, so a repeat of a multi-target alert whose first
    attempt stored only some signals stores exactly the missing ones.
    """
    return "alert-" + hashlib.sha256(f"{key}\x00{account_id}\x00{strategy_id}".encode()).hexdigest()[:40]


def _signals_stream() -> str:
    spec = subjects.stream_for_subject(subjects.signal("x", "x", "x", "x"))
    assert spec is not None  # at_core.subjects defines it
    return spec.name


class Deduplicator:
    """Where a repeat's first event id is found, and where an accepted alert's is recorded."""

    def __init__(
        self, window_s: float, store: Outbox, clock: Clock, metrics: Metrics | None = None, kv_timeout_s: float = 2.0
    ) -> None:
        self.window_s = window_s
        self.stream_window_s = 0.0  # AT_SIGNALS' duplicate window on the server (0 until attached)
        self._store = store
        self._clock = clock
        self._metrics = metrics
        self._kv_timeout_s = kv_timeout_s
        self._local: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._kv: KeyValue | None = None
        self._writes: set[asyncio.Task[None]] = set()

    async def attach(self, bus: EventBus) -> None:
        info = await bus.js.stream_info(_signals_stream())
        self.stream_window_s = float(info.config.duplicate_window or 0.0)
        try:
            self._kv = await bus.js.key_value(subjects.KV_BUCKET_DEDUP)
        except Exception:
            self._kv = await bus.js.create_key_value(
                KeyValueConfig(bucket=subjects.KV_BUCKET_DEDUP, ttl=self.window_s, history=1, replicas=1)
            )
        if self.kv_on_path:
            log.warning(
                "dedup_window_longer_than_stream_window",
                dedup_window_s=self.window_s,
                stream_window_s=self.stream_window_s,
                detail="the KV record is read before each publish: one more round trip per alert",
            )

    @property
    def kv_on_path(self) -> bool:
        """The dedup window is longer than JetStream's: the KV is checked before publishing."""
        return self.window_s > self.stream_window_s

    # --- this process's memory --------------------------------------------------------------

    def _local_get(self, key: str) -> str | None:
        item = self._local.get(key)
        if item is None:
            return None
        event_id, expires = item
        if expires < time.monotonic():
            del self._local[key]
            return None
        return event_id

    def reserve(self, key: str, event_id: str) -> None:
        """Hold ``key`` for ``event_id`` in this process (before any await: a concurrent repeat waits on nothing)."""
        self._local[key] = (event_id, time.monotonic() + self.window_s)
        self._local.move_to_end(key)
        while len(self._local) > _LOCAL_MAX:
            self._local.popitem(last=False)

    # --- the answer path --------------------------------------------------------------------

    async def seen(self, key: str, timeout_s: float) -> str | None:
        """The first event id if ``key`` is known to be taken before publishing; None otherwise.

        Memory, then disk; the KV only when the dedup window is longer than the stream's.
        """
        if (first := self._local_get(key)) is not None:
            return first
        if (first := self._store.claimed(key, self._clock.now_ns())) is not None:
            self.reserve(key, first)
            return first
        kv = self._kv
        if kv is not None and self.kv_on_path and timeout_s > 0:
            try:
                first = await asyncio.wait_for(self._kv_get(kv, key), timeout_s)
            except Exception as exc:  # NATS slow: JetStream's own check still holds within its window
                log.warning("dedup_kv_unavailable", error=repr(exc)[:200])
                return None
            if first is not None:
                self.reserve(key, first)
            return first
        return None

    async def first_of(self, key: str, timeout_s: float) -> str | None:
        """JetStream acknowledged ``key``'s signal as a duplicate: the first event id.

        The KV record is written just after the first was stored (by whichever replica): it is
        polled until ``timeout_s``. None if it never shows (that replica died in between).
        """
        self._local.pop(key, None)  # this request's own reservation: the first is someone else's
        if (first := self._store.claimed(key, self._clock.now_ns())) is not None:
            return first
        kv = self._kv
        if kv is None:
            return None
        deadline = time.monotonic() + timeout_s
        while True:
            with contextlib.suppress(Exception):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                first = await asyncio.wait_for(self._kv_get(kv, key), left)
                if first is not None:
                    self.reserve(key, first)
                    return first
            if time.monotonic() + 0.01 >= deadline:
                break
            await asyncio.sleep(0.01)  # polling a record another replica is writing, not a message
        log.warning("dedup_first_event_id_unknown", key=key)
        return None

    def record(self, key: str, event_id: str) -> None:
        """JetStream stored ``key``'s first signal: remember it, and write the KV record off the answer path."""
        self.reserve(key, event_id)
        if self._kv is None:
            return
        task = asyncio.get_running_loop().create_task(self._record_kv(key, event_id))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    def record_on_disk(self, key: str, event_id: str) -> str:
        """An alert went to the outbox: its claim on disk (a restart still answers the repeat). Returns the holder."""
        now_ns = self._clock.now_ns()
        first = self._store.claim(key, event_id, now_ns, now_ns + int(self.window_s * 1_000_000_000))
        if first == event_id:
            self._count("dedup_local_claims_total")
        self.reserve(key, first)
        return first

    async def release(self, key: str, timeout_s: float = 0.2) -> None:
        """Forget a claim whose event could not be made durable, so a retry is not a 'duplicate'."""
        self._local.pop(key, None)
        self._store.unclaim(key)
        if self._kv is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._kv.delete(key), timeout_s)

    async def flush(self) -> None:
        """Wait for the KV records being written (at stop)."""
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    # --- the KV record ----------------------------------------------------------------------

    async def _record_kv(self, key: str, event_id: str) -> None:
        kv = self._kv
        assert kv is not None  # checked by the caller
        try:
            holder = await asyncio.wait_for(self._kv_claim(kv, key, event_id), self._kv_timeout_s)
        except Exception as exc:  # the signal is stored: only another replica's answer to a repeat lacks the id
            log.warning("dedup_record_failed", key=key, event_id=event_id, error=repr(exc)[:200])
            return
        if holder is not None and holder != event_id:
            log.error("dedup_conflict", key=key, event_id=event_id, other_event_id=holder)
            self._count("dedup_conflicts_total")

    @staticmethod
    async def _kv_get(kv: KeyValue, key: str) -> str | None:
        try:
            entry = await kv.get(key)
        except NotFoundError:
            return None
        return entry.value.decode() if entry.value else None

    @staticmethod
    async def _kv_claim(kv: KeyValue, key: str, event_id: str) -> str | None:
        try:
            await kv.create(key, event_id.encode())
        except KeyWrongLastSequenceError:
            with contextlib.suppress(NotFoundError):
                entry = await kv.get(key)
                if entry.value:
                    return entry.value.decode()
        return None

    async def share_claims(self, timeout_s: float = 2.0) -> int:
        """Copy claims recorded on disk (while the KV bucket was out of reach) into the bucket, so the
        other replicas see them. Returns how many were copied; stops at the first failure."""
        kv = self._kv
        if kv is None:
            return 0
        shared = 0
        for key, event_id in self._store.unshared_claims(self._clock.now_ns()):
            try:
                holder = await asyncio.wait_for(self._kv_claim(kv, key, event_id), timeout_s)
            except Exception as exc:
                log.warning("dedup_share_failed", error=repr(exc)[:200])
                break
            if holder is not None and holder != event_id:
                # another replica accepted the same alert while this one could not reach the bucket
                log.error("dedup_conflict", key=key, event_id=event_id, other_event_id=holder)
                self._count("dedup_conflicts_total")
            self._store.mark_shared(key)
            shared += 1
        if shared:
            log.info("dedup_claims_shared", count=shared)
        return shared

    def unshared(self) -> int:
        """How many local claims the other replicas cannot see yet."""
        return self._store.unshared_count(self._clock.now_ns())

    def _count(self, name: str) -> None:
        if self._metrics is not None:
            self._metrics.counter(name).inc()
