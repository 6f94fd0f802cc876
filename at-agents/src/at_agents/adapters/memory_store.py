"""Agent memory persisted in JetStream KV (bucket ``at_agent_memory``), one key per (strategy, instrument).

A restart, or another replica, reloads it. Keys are a hash (KV keys allow few characters);
the strategy and instrument travel inside the value.

Every decision rewrites its key's whole log (up to the decision and signal bounds, ~100
entries), so the value is assembled from each entry's JSON, encoded once when the entry is first
saved and reused while it stays in the log (entries are frozen; a resolved one is a new
object). Fields that are None are left out: they load back as None.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import cast

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError
from nats.js.kv import KeyValue

from at_agents.domain.memory import MemoryEntry, StrategyMemory
from at_core import subjects


@functools.lru_cache(maxsize=4096)
def memory_key(strategy_id: str, instrument_id: str) -> str:
    return "m" + hashlib.sha256(f"{strategy_id}\x00{instrument_id}".encode()).hexdigest()[:40]


class MemoryStore:
    """Load and save :class:`StrategyMemory` values."""

    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv
        #: key -> the value's head, the entries last saved there and their JSON by ``id``; holding
        #: the entries keeps their ids from being reused, so an id found here is that very entry.
        self._encoded: dict[str, tuple[bytes, tuple[MemoryEntry, ...], dict[int, bytes]]] = {}

    @classmethod
    async def open(cls, js: JetStreamContext, replicas: int = 1) -> MemoryStore:
        try:
            kv = await js.key_value(subjects.KV_BUCKET_AGENT_MEMORY)
        except BucketNotFoundError:
            kv = await js.create_key_value(
                KeyValueConfig(
                    bucket=subjects.KV_BUCKET_AGENT_MEMORY,
                    history=1,
                    storage=StorageType.FILE,
                    replicas=replicas,
                    description="at-agents memory per strategy and instrument",
                )
            )
        return cls(kv)

    async def save(self, memory: StrategyMemory) -> None:
        await self.kv.put(memory_key(memory.strategy_id, memory.instrument_id), self.encode(memory))

    def encode(self, memory: StrategyMemory) -> bytes:
        """The value stored for ``memory``: ``StrategyMemory`` JSON without None fields, loadable
        by :meth:`StrategyMemory.model_validate_json`; only entries not saved before are dumped."""
        key = memory_key(memory.strategy_id, memory.instrument_id)
        last = self._encoded.get(key)
        if last is None:
            head = json.dumps({"strategy_id": memory.strategy_id, "instrument_id": memory.instrument_id})
            last = (head[:-1].encode() + b',"entries":[', (), {})
        entries, ids = memory.entries, list(map(id, memory.entries))
        found = list(map(last[2].get, ids))  # C-level lookups: this runs on every decision
        for i, part in enumerate(found):
            if part is None:
                found[i] = entries[i].model_dump_json(exclude_none=True).encode()
        parts = cast(list[bytes], found)  # every None was filled
        self._encoded[key] = (last[0], entries, dict(zip(ids, parts, strict=True)))
        return last[0] + b",".join(parts) + b"]}"

    async def load_all(self) -> list[StrategyMemory]:
        try:
            keys = await self.kv.keys()
        except Exception:  # nats raises NoKeysError on an empty bucket
            return []
        out = []
        for key in keys:
            entry = await self.kv.get(key)
            if entry.value:
                out.append(StrategyMemory.model_validate_json(entry.value))
        return out
