"""at-obs recorder settings: environment / .env only, prefix ``AT_OBS_``."""

from __future__ import annotations

from pydantic import Field

from at_core.constants import DEFAULT_PORTS, SERVICE_OBS
from at_core.runtime.settings import ServiceSettings, service_config


class ObsSettings(ServiceSettings):
    """Recorder settings, with safe defaults (a local SQLite audit log)."""

    model_config = service_config("AT_OBS_")

    port: int = Field(default=DEFAULT_PORTS[SERVICE_OBS], ge=0, le=65535, description="HTTP port of the recorder")
    audit_db_path: str = Field(default="var/audit.sqlite3", description="SQLite file of the hash-chained audit log")
    durable_prefix: str = Field(default="recorder", description="Durable consumer name prefix")
    jetstream_poll_s: float = Field(default=5.0, gt=0, description="How often stream sizes and consumer lag are read")
