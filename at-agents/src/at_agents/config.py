"""Agents settings: environment / .env only, prefix ``AT_AGENTS_``."""

from __future__ import annotations

from decimal import Decimal
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from at_core.constants import DEFAULT_PORTS, SERVICE_AGENTS
from at_core.runtime.settings import ServiceSettings, service_config


class BarSignalConfig(BaseModel):
    """One bar-driven strategy (``domain/bar_signals.py``) trading one account and strategy id on one instrument."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    account_id: str = Field(min_length=1, description="The account its signals are for")
    strategy_id: str = Field(min_length=1, description="The strategy id its signals carry (selects the committee)")
    instrument_id: str = Field(min_length=1, description="Canonical instrument whose bars it reads, e.g. MES.CME")
    kind: str = Field(description="ma_cross | breakout")
    params: dict[str, int] = Field(default_factory=dict, description="ma_cross: fast, slow; breakout: lookback")
    quantity: Decimal = Field(default=Decimal(1), gt=0, description="Target position size when long or short")
    long_only: bool = Field(default=False, description="A short signal goes flat instead")
    interval: str | None = Field(default=None, description="Only bars of this interval ('1', '5', 'D'); None: any")

    @model_validator(mode="after")
    def _known_strategy(self) -> Self:
        from at_core.strategies.bar_signals import make_strategy

        make_strategy(self.kind, self.params)  # raises BarSignalConfigError (a ValueError) naming the problem
        return self


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
    memory_decisions_kept: int = Field(default=50, gt=0, description="Decisions kept per strategy and symbol")
    memory_signals_kept: int = Field(default=50, gt=0, description="Signals kept per strategy and symbol")
    llm_cache_dir: str = Field(default="var/llm-cache", description="Recorded LLM exchanges (replay reads only these)")
    session_calendars: dict[str, str] = Field(
        default_factory=lambda: {"future": "CME_Equity", "fx": "FX", "crypto_spot": "CRYPTO", "crypto_perp": "CRYPTO"},
        description="session_guard: market calendar per asset class (at_core.markets.calendars); "
        "an entry outside its sessions is vetoed. {} disables the guard's hours",
    )
    bar_signals: list[BarSignalConfig] = Field(
        default_factory=list,
        description="Bar-driven strategies that generate signals from market data, per account and strategy "
        '(JSON list, e.g. [{"account_id":"paper-1","strategy_id":"ma","instrument_id":"MES.CME",'
        '"kind":"ma_cross","params":{"fast":10,"slow":30}}]); [] (the default): none, signals come only from the gateway',
    )
    mcp_enabled: bool = Field(default=True, description="Mount the MCP server at /mcp")
    mcp_symbols: list[str] = Field(
        default_factory=lambda: ["MES.CME", "ES.CME", "EUR/USD.FX", "BTC/USDT.BINANCE"],
        description="Instruments propose_trade accepts",
    )
    mcp_accounts: list[str] = Field(default_factory=lambda: ["paper-1"], description="Accounts propose_trade accepts")
    mcp_max_quantity: Decimal = Field(default=Decimal(2), gt=0, description="Largest quantity propose_trade accepts")
    mcp_allow_live: bool = Field(default=False, description="propose_trade may send non-paper proposals")

    @model_validator(mode="after")
    def _known_calendars(self) -> Self:
        from at_core.markets.calendars import known_calendars

        unknown = sorted(set(self.session_calendars.values()) - set(known_calendars()))
        if unknown:
            raise ValueError(f"session_calendars: unknown calendar(s) {unknown}; known: {list(known_calendars())}")
        return self

    @model_validator(mode="after")
    def _safe_in_production(self) -> Self:
        if self.environment == "production" and self.mcp_allow_live and not self.mcp_symbols:
            raise ValueError("mcp_allow_live in production needs an explicit mcp_symbols allowlist")
        if self.environment == "production" and self.replay_mode:
            raise ValueError("replay_mode must not run in production (it answers from recordings)")
        return self
