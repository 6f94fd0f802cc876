"""Agents settings: environment / .env only, prefix ``AT_AGENTS_``."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from at_core.constants import DEFAULT_PORTS, SERVICE_AGENTS
from at_core.runtime.settings import ServiceSettings, service_config


class AgentsSettings(ServiceSettings):
    """Every agents setting, with defaults that run rule agents only (no LLM keys needed)."""

    model_config = service_config("AT_AGENTS_")

    port: int = Field(default=DEFAULT_PORTS[SERVICE_AGENTS], ge=0, le=65535, description="HTTP port")
    committees_file: str | None = Field(
        default=None, description="Committees YAML (default: the shipped rule-only committee)"
    )
    durable_prefix: str = Field(default="agents", description="Durable consumer name prefix (replicas share them)")
    risk_fraction: Decimal = Field(
        default=Decimal("0.01"), gt=0, le=Decimal("0.1"), description="Equity risked per trade when sizing"
    )
    default_equity: Decimal = Field(
        default=Decimal(50000), gt=0, description="Equity assumed until exec-sim publishes the account"
    )
    default_stop_ticks: Decimal = Field(
        default=Decimal(40), gt=0, description="Stop distance in ticks when a signal has none"
    )
    ack_wait_s: float = Field(
        default=10.0, gt=0, description="Unacknowledged messages are redelivered after this (after a crash)"
    )
    decisions_kept: int = Field(default=1000, gt=0, description="Recent decisions kept for GET /decisions")
