"""De-duplication of alerts: an in-process reservation, a JetStream KV record, and a local record.

The KV record (``create`` fails when the key exists) makes the check atomic across gateway
replicas and longer than the streams' 2-minute duplicate window; the bucket's max age is the
configured window. When the KV record cannot be written in time (NATS down, slow or
restarting), the claim is recorded on disk next to the outbox instead, so the alert that went to
the outbox is a duplicate after a restart too; every claim consults that local record first.
Every await is bounded by the caller's time budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time

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


def dedup_key(route: str, alert_id: str | None, raw: bytes) -> str:
    basis = f"id:{route}:{alert_id}".encode() if alert_id else b"body:" + route.encode() + b"\x00" + raw
    return hashlib.sha256(basis).hexdigest()


class Deduplicator:
    """``claim`` answers None for a first alert, or the first event id for a repeat."""

    def __init__(self, window_s: float, store: Outbox, clock: Clock, metrics: Metrics | None = None) -> None:
        self.window_s = window_s
        self._store = store
        self._clock = clock
        self._metrics = metrics
        self._local: dict[str, tuple[str, float]] = {}
        self._kv: KeyValue | None = None

    async def attach(self, bus: EventBus) -> None:
        try:
            self._kv = await bus.js.key_value(subjects.KV_BUCKET_DEDUP)
        except Exception:
            self._kv = await bus.js.create_key_value(
                KeyValueConfig(bucket=subjects.KV_BUCKET_DEDUP, ttl=self.window_s, history=1, replicas=1)
            )

    def _local_get(self, key: str) -> str | None:
        item = self._local.get(key)
        if item is None:
            return None
        event_id, expires = item
        if expires < time.monotonic():
            del self._local[key]
            return None
        return event_id

    def _remember(self, key: str, event_id: str) -> None:
        self._local[key] = (event_id, time.monotonic() + self.window_s)
        if len(self._local) > 100_000:
            self._evict()

    async def claim(self, key: str, event_id: str, timeout_s: float) -> str | None:
        """Claim ``key`` for ``event_id`` within ``timeout_s``. Returns the first event id if already claimed."""
        if (first := self._local_get(key)) is not None:
            return first
        now_ns = self._clock.now_ns()
        if (first := self._store.claimed(key, now_ns)) is not None:
            self._remember(key, first)
            return first
        self._remember(key, event_id)  # reserve before any await
        kv = self._kv
        if kv is not None and timeout_s > 0:
            try:
                first = await asyncio.wait_for(self._kv_claim(kv, key, event_id), timeout_s)
            except Exception as exc:  # NATS down or slow: fall through to the local record
                log.warning("dedup_kv_unavailable", error=repr(exc)[:200])
            else:
                if first is not None and first != event_id:
                    self._remember(key, first)
                    return first
                return None
        expires_ns = now_ns + int(self.window_s * 1_000_000_000)
        first = self._store.claim(key, event_id, now_ns, expires_ns)
        if first == event_id:
            self._count("dedup_local_claims_total")
            return None
        return first

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

    async def release(self, key: str, timeout_s: float = 0.2) -> None:
        """Forget a claim whose event could not be made durable, so a retry is not a 'duplicate'."""
        self._local.pop(key, None)
        self._store.unclaim(key)
        if self._kv is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._kv.delete(key), timeout_s)

    def _evict(self) -> None:
        now = time.monotonic()
        for key in [k for k, (_, exp) in self._local.items() if exp < now]:
            del self._local[key]
