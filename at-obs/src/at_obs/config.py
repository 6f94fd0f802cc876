"""at-obs recorder settings: environment / .env only, prefix ``AT_OBS_``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from at_core.constants import DEFAULT_PORTS, SERVICE_OBS
from at_core.runtime.settings import service_config
from at_obs.console_settings import ConsoleSettings


class ObsSettings(ConsoleSettings):
    """Recorder settings, with safe defaults (a local SQLite audit log); the console's come from ConsoleSettings."""

    model_config = service_config("AT_OBS_")

    port: int = Field(default=DEFAULT_PORTS[SERVICE_OBS], ge=0, le=65535, description="HTTP port of the recorder")
    audit_db_path: str = Field(default="var/audit.sqlite3", description="SQLite file of the hash-chained audit log")
    audit_postgres_url: SecretStr | None = Field(
        default=None, description="postgresql://user:pass@host/db: record to PostgreSQL instead of SQLite"
    )
    audit_commit_linger_s: float = Field(
        default=0.01,
        ge=0,
        le=1.0,
        description=(
            "How long the audit writer waits after a fetched batch for the other streams' batches, "
            "to commit them in one transaction (acks wait for that commit)"
        ),
    )
    fetch_linger_s: float = Field(
        default=0.05,
        ge=0,
        le=1.0,
        description=(
            "How long each stream's consumer lets a first event wait for others before handing the "
            "batch to the audit writer: the record lags by up to this, for far less CPU per event at "
            "a trickle (0 hands each event over as it comes)"
        ),
    )
    audit_sqlite_synchronous: Literal["FULL", "NORMAL"] = Field(
        default="FULL",
        description=(
            "SQLite synchronous pragma (WAL): FULL syncs every commit; NORMAL only at checkpoints, "
            "so a power loss can drop the last commits (JetStream still holds them; see RUNBOOK)"
        ),
    )
    durable_prefix: str = Field(
        default="recorder", pattern=r"^[A-Za-z0-9_-]+$", description="Durable consumer name prefix"
    )
    jetstream_poll_s: float = Field(default=5.0, gt=0, description="How often stream sizes and consumer lag are read")
    verify_interval_s: float = Field(
        default=300.0, gt=0, description="How often the recorder re-verifies the whole chain (audit_chain_ok gauge)"
    )

    @property
    def audit_location(self) -> str:
        """Where the audit log lives: the PostgreSQL URL when given, else the SQLite path."""
        if self.audit_postgres_url is not None:
            return self.audit_postgres_url.get_secret_value()
        return self.audit_db_path

    @model_validator(mode="after")
    def _safe_in_production(self) -> ObsSettings:
        if self.environment != "production":
            return self
        if self.audit_postgres_url is None and not Path(self.audit_db_path).is_absolute():
            raise ValueError(
                "production needs AT_OBS_AUDIT_POSTGRES_URL or an absolute AT_OBS_AUDIT_DB_PATH "
                "(a relative path depends on the working directory)"
            )
        url = self.audit_postgres_url.get_secret_value() if self.audit_postgres_url else ""
        if url and not url.startswith(("postgresql://", "postgres://")):
            raise ValueError("AT_OBS_AUDIT_POSTGRES_URL must start with postgresql://")
        return self
