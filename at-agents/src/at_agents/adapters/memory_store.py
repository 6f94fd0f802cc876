"""Agent memory persisted in JetStream KV (bucket ``at_agent_memory``), one key per (strategy, instrument).

A restart, or another replica, reloads it. Keys are a hash (KV keys allow few characters);
the strategy and instrument travel inside the value.
"""

from __future__ import annotations

import hashlib

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError
from nats.js.kv import KeyValue

from at_agents.domain.memory import StrategyMemory
from at_core import subjects


def memory_key(strategy_id: str, instrument_id: str) -> str:
    return "m" + hashlib.sha256(f"{strategy_id}\x00{instrument_id}".encode()).hexdigest()[:40]


class MemoryStore:
    """Load and save :class:`StrategyMemory` values."""

    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

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
        await self.kv.put(memory_key(memory.strategy_id, memory.instrument_id), memory.model_dump_json().encode())

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
