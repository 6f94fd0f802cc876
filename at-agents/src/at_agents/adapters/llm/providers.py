"""One provider interface for OpenAI, Anthropic, DeepSeek and local OpenAI-compatible servers (pydantic-ai).

The official SDK clients are built here with the configured timeout and retry count: both SDKs
back off on 429/5xx and honour ``Retry-After``. The structured-output mode is the strictest each
provider accepts: JSON schema for OpenAI, a forced tool call for Anthropic, and prompt plus
validation for DeepSeek's reasoning models (they reject ``tool_choice``) and local servers
(which reject some ``tool_choice`` forms), and for llama.cpp servers (``llama_cpp``, e.g. the
local SmolLM2 of ``make llm-local``) prompt plus a JSON-schema grammar (``schema`` mode:
``response_format: {type: json_object, schema}``, which llama-cpp-python's server accepts in
place of OpenAI's ``json_schema`` form). Reasoning text (``reasoning_content``, ``<think>``) is
split off by pydantic-ai before the answer is parsed.
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any, Literal

from anthropic import AsyncAnthropic
from openai import AsyncOpenAI
from pydantic import BaseModel, ConfigDict, Field
from pydantic_ai import NativeOutput, PromptedOutput, ToolOutput
from pydantic_ai.models import Model
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.providers.deepseek import DeepSeekProvider
from pydantic_ai.providers.ollama import OllamaProvider
from pydantic_ai.providers.openai import OpenAIProvider

from at_agents.errors import ProviderConfigError

ProviderKind = Literal["openai", "anthropic", "deepseek", "ollama", "openai_compatible", "llama_cpp"]
OutputMode = Literal["tool", "native", "prompted", "schema"]

DEFAULT_MODE: dict[str, OutputMode] = {
    "openai": "native",
    "anthropic": "tool",
    "deepseek": "prompted",
    "ollama": "prompted",
    "openai_compatible": "prompted",
    "llama_cpp": "schema",
}
DEFAULT_BASE_URL = {
    "deepseek": "https://api.deepseek.com",
    "ollama": "http://127.0.0.1:11434/v1",
    "llama_cpp": "http://127.0.0.1:8090/v1",  # `make llm-local`
}


class ProviderConfig(BaseModel):
    """One model endpoint, from the committees YAML. Keys come from the environment, never the file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: ProviderKind
    model: str
    base_url: str | None = None
    api_key_env: str | None = Field(default=None, description="Environment variable holding the key")
    output_mode: OutputMode | None = None
    timeout_s: float = Field(default=20.0, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10, description="SDK retries on 429/5xx, honouring Retry-After")
    max_concurrency: int = Field(default=4, ge=1)
    images: bool = Field(default=False, description="The model accepts chart screenshots")
    temperature: float = Field(default=0.0, ge=0, le=2)
    max_output_tokens: int = Field(default=800, gt=0)
    price_input_per_mtok: Decimal = Field(default=Decimal(0), ge=0, description="Cost per million input tokens")
    price_output_per_mtok: Decimal = Field(default=Decimal(0), ge=0, description="Cost per million output tokens")

    @property
    def mode(self) -> OutputMode:
        return self.output_mode or DEFAULT_MODE[self.kind]

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.model}"

    def cost(self, input_tokens: int, output_tokens: int) -> Decimal:
        return (input_tokens * self.price_input_per_mtok + output_tokens * self.price_output_per_mtok) / 1_000_000

    def settings(self) -> dict[str, Any]:
        """The model parameters sent with every call (part of the recording key)."""
        return {"temperature": self.temperature, "max_tokens": self.max_output_tokens}

    def model_settings(self, schema: dict[str, Any]) -> dict[str, Any]:
        """pydantic-ai model settings; ``schema`` mode asks the server to constrain decoding to the schema."""
        settings: dict[str, Any] = {"temperature": self.temperature, "max_tokens": self.max_output_tokens}
        if self.mode == "schema":
            # llama.cpp servers turn a JSON schema into a grammar: the answer is valid JSON of
            # that shape (ranges such as conviction's -1..1 are not enforced: validation is).
            settings["extra_body"] = {"response_format": {"type": "json_object", "schema": schema}}
        return settings


def api_key(cfg: ProviderConfig, environ: dict[str, str] | None = None) -> str | None:
    env = os.environ if environ is None else environ
    return env.get(cfg.api_key_env) if cfg.api_key_env else None


def build_model(cfg: ProviderConfig, key: str | None) -> Model:
    """The pydantic-ai model for ``cfg``, on the official SDK client.

    Raises:
        ProviderConfigError: a hosted provider without a key.
    """
    if cfg.kind in ("openai", "anthropic", "deepseek") and not key:
        raise ProviderConfigError(cfg.name, f"no API key (set {cfg.api_key_env or 'api_key_env'})")
    if cfg.kind == "anthropic":
        client = AsyncAnthropic(api_key=key, base_url=cfg.base_url, max_retries=cfg.max_retries, timeout=cfg.timeout_s)
        return AnthropicModel(cfg.model, provider=AnthropicProvider(anthropic_client=client))
    openai_client = AsyncOpenAI(
        api_key=key or "not-needed",
        base_url=cfg.base_url or DEFAULT_BASE_URL.get(cfg.kind),
        max_retries=cfg.max_retries,
        timeout=cfg.timeout_s,
    )
    if cfg.kind == "deepseek":
        provider: Any = DeepSeekProvider(openai_client=openai_client)
    elif cfg.kind == "ollama":
        provider = OllamaProvider(openai_client=openai_client)
    else:
        provider = OpenAIProvider(openai_client=openai_client)
    if cfg.kind in ("ollama", "openai_compatible", "llama_cpp"):
        # OpenAI-compatible servers honour `max_tokens` and ignore OpenAI's newer
        # `max_completion_tokens` (llama.cpp did: a 6-token cap answered 42 tokens).
        profile = {**(provider.model_profile(cfg.model) or {}), "openai_chat_supports_max_completion_tokens": False}
        return OpenAIChatModel(cfg.model, provider=provider, profile=profile)
    return OpenAIChatModel(cfg.model, provider=provider)


def output_spec(mode: OutputMode, output_type: type[BaseModel]) -> Any:
    """The pydantic-ai output spec for a structured-output mode."""
    if mode == "tool":
        return ToolOutput(output_type, name="final_analysis")
    if mode == "native":
        return NativeOutput(output_type)
    return PromptedOutput(output_type)  # "schema" too: the prompt asks, the server's grammar constrains
