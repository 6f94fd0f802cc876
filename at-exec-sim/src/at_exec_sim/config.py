"""exec-sim settings: environment / .env only, prefix ``AT_EXEC_SIM_``."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, Self

from pydantic import Field, model_validator

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
    slippage_model: Literal["none", "fixed_ticks", "spread", "volume_share"] | None = Field(
        default=None,
        description="Slippage against takers: none, fixed_ticks, spread or volume_share (LEAN's); "
        "unset: fixed_ticks when slippage_ticks > 0, else none",
    )
    slippage_value: Decimal | None = Field(
        default=None,
        ge=0,
        description="The model's parameter: ticks (fixed_ticks, default 1), fraction of the spread "
        "(spread, default 0.5), price impact (volume_share, default 0.1)",
    )
    slippage_volume_limit: Decimal = Field(
        default=Decimal("0.025"), gt=0, le=1, description="volume_share: cap on order quantity / volume"
    )
    slippage_ticks: Decimal = Field(
        default=Decimal(0), ge=0, description="Shorthand for slippage_model=fixed_ticks with this many ticks"
    )
    fee_per_contract: Decimal = Field(default=Decimal("0.62"), ge=0, description="Futures fee per contract per side")
    crypto_taker_bps: Decimal = Field(default=Decimal(4), ge=0, description="Crypto taker fee, basis points")
    crypto_maker_bps: Decimal = Field(default=Decimal(2), ge=0, description="Crypto maker fee, basis points")
    fx_bps: Decimal = Field(default=Decimal(0), ge=0, description="FX fee, basis points of the notional")
    fee_per_fill: Decimal = Field(default=Decimal(0), ge=0, description="Fixed fee added to every fill")
    latency_submit_ns: int = Field(default=0, ge=0, description="Delay before an order reaches the simulated venue")
    latency_cancel_ns: int = Field(default=0, ge=0, description="Delay before a cancel reaches the simulated venue")
    latency_jitter_ns: int = Field(
        default=0, ge=0, description="Uniform extra delay in [0, jitter] on each submit and cancel (seeded by seed)"
    )
    timer_interval_s: float = Field(
        default=1.0,
        ge=0,
        description="Live mode: how often DAY/GTD expiries, due cancels and day rolls are applied without "
        "market data (0 = only on market data; replay mode never runs a timer)",
    )
    ack_wait_s: float = Field(
        default=10.0, gt=0, description="Unacknowledged messages are redelivered after this (after a crash)"
    )
    recover_on_start: bool = Field(default=True, description="Rebuild positions and decisions from JetStream at start")

    @model_validator(mode="after")
    def _one_slippage(self) -> Self:
        if self.slippage_ticks > 0 and self.slippage_model not in (None, "fixed_ticks"):
            raise ValueError(
                f"slippage_ticks={self.slippage_ticks} is the fixed_ticks shorthand but slippage_model="
                f"{self.slippage_model}: set one of them"
            )
        if self.slippage_ticks > 0 and self.slippage_value is not None and self.slippage_value != self.slippage_ticks:
            raise ValueError("slippage_ticks and slippage_value disagree: set one of them")
        if self.slippage_model in (None, "none") and self.slippage_value is not None and self.slippage_ticks == 0:
            raise ValueError("slippage_value needs a slippage_model (fixed_ticks, spread or volume_share)")
        return self

    def slippage(self) -> tuple[str, Decimal | None]:
        """The slippage model's name and value, with ``slippage_ticks`` read as fixed_ticks."""
        if self.slippage_model is None:
            return ("fixed_ticks", self.slippage_ticks) if self.slippage_ticks > 0 else ("none", None)
        if self.slippage_model == "fixed_ticks" and self.slippage_value is None and self.slippage_ticks > 0:
            return "fixed_ticks", self.slippage_ticks
        return self.slippage_model, self.slippage_value
