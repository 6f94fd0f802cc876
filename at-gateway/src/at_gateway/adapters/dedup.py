"""De-duplication of alerts: an in-process reservation, backed by a JetStream KV bucket.

The KV record (``create`` fails when the key exists) makes the check atomic across gateway
replicas and longer than the streams' 2-minute duplicate window; the bucket's max age is the
configured window.
"""

from __future__ import annotations

import contextlib
import hashlib
import time

from nats.js.api import KeyValueConfig
from nats.js.errors import KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from at_core import subjects
from at_core.runtime.bus import EventBus


def dedup_key(route: str, alert_id: str | None, raw: bytes) -> str:
    basis = f"id:{route}:{alert_id}".encode() if alert_id else b"body:" + route.encode() + b"\x00" + raw
    return hashlib.sha256(basis).hexdigest()


class Deduplicator:
    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
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

    async def claim(self, key: str, event_id: str) -> str | None:
        """Claim ``key`` for ``event_id``. Returns the first event id if it was already claimed."""
        if (first := self._local_get(key)) is not None:
            return first
        self._local[key] = (event_id, time.monotonic() + self.window_s)  # reserve before any await
        if len(self._local) > 100_000:
            self._evict()
        if self._kv is None:
            return None
        try:
            await self._kv.create(key, event_id.encode())
        except KeyWrongLastSequenceError:
            with contextlib.suppress(NotFoundError):
                entry = await self._kv.get(key)
                if entry.value:
                    first = entry.value.decode()
                    self._local[key] = (first, time.monotonic() + self.window_s)
                    return first
        except Exception:  # NATS down: the local reservation and JetStream's Msg-Id window still apply
            return None
        return None

    async def release(self, key: str) -> None:
        """Forget a claim whose event could not be made durable, so a retry is not a 'duplicate'."""
        self._local.pop(key, None)
        if self._kv is not None:
            with contextlib.suppress(Exception):
                await self._kv.delete(key)

    def _evict(self) -> None:
        now = time.monotonic()
        for key in [k for k, (_, exp) in self._local.items() if exp < now]:
            del self._local[key]
