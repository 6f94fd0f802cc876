"""exec-sim settings: environment / .env only, prefix ``AT_EXEC_SIM_``."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from at_core.constants import DEFAULT_PORTS, SERVICE_EXEC_SIM
from at_core.runtime.settings import ServiceSettings, service_config


class ExecSimSettings(ServiceSettings):
    """Every exec-sim setting, with safe defaults (the simulated venue, shipped accounts)."""

    model_config = service_config("AT_EXEC_SIM_")

    port: int = Field(default=DEFAULT_PORTS[SERVICE_EXEC_SIM], ge=0, le=65535, description="HTTP port")
    accounts_file: str | None = Field(
        default=None, description="Accounts YAML (default: the shipped paper and prop-firm accounts)"
    )
    profiles_dir: str | None = Field(
        default=None, description="Directory of rule-profile YAMLs (default: the shipped ones)"
    )
    durable_prefix: str = Field(default="exec-sim", description="Durable consumer name prefix (replicas share them)")
    slippage_ticks: Decimal = Field(default=Decimal(0), ge=0, description="Fixed slippage against takers, in ticks")
    fee_per_contract: Decimal = Field(default=Decimal("0.62"), ge=0, description="Futures fee per contract per side")
    crypto_taker_bps: Decimal = Field(default=Decimal(4), ge=0, description="Crypto taker fee, basis points")
    crypto_maker_bps: Decimal = Field(default=Decimal(2), ge=0, description="Crypto maker fee, basis points")
    ack_wait_s: float = Field(
        default=10.0, gt=0, description="Unacknowledged messages are redelivered after this (after a crash)"
    )
    recover_on_start: bool = Field(default=True, description="Rebuild positions and decisions from JetStream at start")
