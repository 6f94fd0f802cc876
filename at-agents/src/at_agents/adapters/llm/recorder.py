"""Every LLM exchange recorded, keyed by a hash of provider, model, parameters, messages and output schema.

Live mode: a hit returns the recorded response, a miss calls the provider and records request,
response, usage and latency. Replay mode: a miss raises :class:`ReplayCacheMiss`, never a live
call, so replays and CI are exact and free.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter, ModelResponse
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings

from at_agents.errors import ReplayCacheMiss

# Fields pydantic-ai stamps per run (wall-clock time, random run ids): not part of what was asked.
_VOLATILE = frozenset({"timestamp", "run_id", "conversation_id"})


def _normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in sorted(value.items()) if k not in _VOLATILE}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def request_key(
    provider: str, model: str, settings: dict[str, Any], schema: dict[str, Any], mode: str, messages: list[ModelMessage]
) -> tuple[str, dict[str, Any]]:
    """The recording key and the canonical request it hashes."""
    request = {
        "provider": provider,
        "model": model,
        "settings": settings,
        "output_mode": mode,
        "output_schema": schema,
        "messages": _normalise(json.loads(ModelMessagesTypeAdapter.dump_json(messages))),
    }
    blob = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest(), request


class LlmCache:
    """Recordings as one JSON file per key under ``root`` (written atomically)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        return json.loads(path.read_text()) if path.exists() else None

    def put(self, key: str, record: dict[str, Any]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(record, sort_keys=True, indent=1, default=str))
        tmp.replace(path)


class RecordingModel(WrapperModel):
    """Wraps a provider model: answers from the cache when it can, records every live exchange."""

    def __init__(
        self,
        wrapped: Any,
        cache: LlmCache,
        *,
        provider: str,
        model: str,
        settings: dict[str, Any],
        schema: dict[str, Any],
        mode: str,
        replay: bool,
    ) -> None:
        super().__init__(wrapped)
        self.cache = cache
        self.provider_name = provider
        self.model_label = model
        self.call_settings = settings
        self.schema = schema
        self.mode = mode
        self.replay = replay
        self.hits = 0
        self.live_calls = 0
        self.last_latency_ms: float | None = None

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        key, request = request_key(
            self.provider_name, self.model_label, self.call_settings, self.schema, self.mode, messages
        )
        record = self.cache.get(key)
        if record is not None:
            self.hits += 1
            self.last_latency_ms = None
            return ModelMessagesTypeAdapter.validate_python(record["response"])[0]  # type: ignore[return-value]
        if self.replay:
            raise ReplayCacheMiss(key, self.model_label)
        started = time.perf_counter()
        response = await self.wrapped.request(messages, model_settings, model_request_parameters)
        latency_ms = (time.perf_counter() - started) * 1000
        self.live_calls += 1
        self.last_latency_ms = latency_ms
        self.cache.put(
            key,
            {
                "key": key,
                "request": request,
                "response": json.loads(ModelMessagesTypeAdapter.dump_json([response])),
                "usage": {"input_tokens": response.usage.input_tokens, "output_tokens": response.usage.output_tokens},
                "latency_ms": round(latency_ms, 3),
            },
        )
        return response
