"""De-duplication of alerts: JetStream's own ``Nats-Msg-Id`` check, a local record, a KV record.

The check that stops a repeat is JetStream's: every signal of an alert is published with a
message id derived from the alert's key (:func:`signal_msg_id`), and within ``AT_SIGNALS``'
``duplicate_window`` (``subjects.SIGNALS_DUPLICATE_WINDOW_S``, read from the server at attach)
JetStream stores the first and acknowledges a repeat as ``duplicate``, atomically across
replicas, in the one round trip that publishes. No claim is made before the publish.

A repeat is answered with the first event id: from this process's memory; else the on-disk
claims (the outbox's ``claims`` table, written when an alert went to the outbox, so a restart
still knows it); else the first message itself, read by the sequence JetStream's duplicate ack
names. The KV bucket stays for what JetStream cannot hold: claims made on disk while NATS was
down (shared once it is back, conflicts between replicas counted), and, only when
``dedup_window_s`` is longer than the stream's window, the check beyond it (read before each
publish: one more round trip; written after the ack, off the answer path). Every await is
bounded by the caller's time budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections import OrderedDict

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
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
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None

    async def attach(self, bus: EventBus) -> None:
        self._nc, self._js = bus.nc, bus.js
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
        """Remember in this process that ``key``'s first event is ``event_id`` (recorded, or found on
        disk, in the KV or in the stream). A repeat arriving while the first attempt is still storing
        is held by the service's in-flight attempts, not by this."""
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

    async def first_of(self, key: str, seq: int, timeout_s: float) -> str | None:
        """JetStream acknowledged ``key``'s signal as a duplicate of its message ``seq``: the first event id.

        This process's own reservation aside, the disk, then that message itself (read by
        sequence from ``AT_SIGNALS``, the stream the gateway writes). None if it cannot be read
        in time (the repeat is still dropped: only its answer lacks the id).
        """
        self._local.pop(key, None)  # this request's own reservation: the first is someone else's
        if (first := self._store.claimed(key, self._clock.now_ns())) is not None:
            return first
        js = self._js
        if js is None or seq <= 0 or timeout_s <= 0:
            return None
        try:
            msg = await asyncio.wait_for(js.get_msg(_signals_stream(), seq), timeout_s)
            first = str(json.loads(msg.data or b"{}")["event_id"])
        except Exception as exc:
            log.warning("dedup_first_event_id_unknown", key=key, seq=seq, error=repr(exc)[:200])
            return None
        self.reserve(key, first)
        return first

    async def record(self, key: str, event_id: str) -> None:
        """JetStream stored ``key``'s first signal: remember it in this process; and, only when the
        dedup window is longer than the stream's, write the KV record, off the answer path.

        Within the stream's window the record is JetStream's own (the message id, the message
        holding the event id). The KV write is a plain core-NATS publish into the bucket's
        subject, no reply awaited: no round trip. Measured: a KV write per alert, even unawaited,
        doubled the server's stores and delayed signal acks past the answer deadline under load,
        so it is made only where it is the check.
        """
        self.reserve(key, event_id)
        nc = self._nc
        if not self.kv_on_path or nc is None or not nc.is_connected:
            return
        try:
            await nc.publish(f"$KV.{subjects.KV_BUCKET_DEDUP}.{key}", event_id.encode())  # the KV's own subject
        except Exception as exc:
            log.warning("dedup_record_failed", key=key, event_id=event_id, error=repr(exc)[:200])

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

    # --- the KV record ----------------------------------------------------------------------

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
