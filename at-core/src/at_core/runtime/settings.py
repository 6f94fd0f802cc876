"""Base settings: pydantic-settings, one env prefix per service, ``.env`` support.

Settings are built inside an app factory or lifespan, never at import.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Mirrors at_core.service_kit.auth.DEV_API_KEYS (the kit imports FastAPI; settings must not).
DEV_API_KEYS = "operator:dev-operator-key,trader:dev-api-key,agent:dev-agent-key,viewer:dev-viewer-key"


class ServiceSettings(BaseSettings):
    """Fields every service has. Subclass with ``model_config = service_config("AT_GATEWAY_")``."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True)

    environment: Literal["dev", "test", "production"] = "dev"
    nats_url: str = Field(default="nats://127.0.0.1:4222", description="Comma-separated NATS server URLs")
    nats_user: str | None = None
    nats_password: SecretStr | None = None
    nats_connect_timeout_s: float = Field(default=2.0, gt=0)
    nats_initial_connect_deadline_s: float = Field(
        default=30.0, ge=0, description="How long to keep retrying the first NATS connection at startup"
    )
    nats_stream_replicas: int = Field(default=1, ge=1, le=5)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    instance_id: str = Field(default="0", description="Replica id, used in heartbeats and durable names")
    replay_mode: bool = Field(
        default=False, description="Clock follows event timestamps; LLM calls from recordings only"
    )
    seed: int = Field(default=0, description="Seed for every RNG in the service")
    # The control plane (at_core.service_kit): see the README's "API keys".
    api_keys: SecretStr = Field(
        default=SecretStr(DEV_API_KEYS),
        description="API keys as scope:key pairs, comma-separated (scopes: operator, trader, agent, viewer); "
        "several per scope during a rotation. WARNING: the defaults are dev keys, refused in production",
    )
    reads_need_api_key: bool = Field(
        default=False, description="Reads of positions, orders, fills and P&L need a key (always on in production)"
    )
    docs_enabled: bool | None = Field(
        default=None, description="Serve /docs and /openapi.json (default: on, off in production)"
    )
    consumer_stall_after_s: float = Field(
        default=120.0, gt=0, description="/readyz turns 503 when a durable's backlog has not moved for this long"
    )

    @property
    def nats_servers(self) -> list[str]:
        return [u.strip() for u in self.nats_url.split(",") if u.strip()]


def service_config(prefix: str) -> SettingsConfigDict:
    """Settings config for a service whose variables start with ``prefix`` (e.g. ``AT_GATEWAY_``)."""
    return SettingsConfigDict(
        env_prefix=prefix, env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )
