"""exec-sim settings: environment / .env only, prefix ``AT_EXEC_SIM_``."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from at_core.constants import DEFAULT_PORTS, SERVICE_EXEC_SIM, SIM_VENUE
from at_core.runtime.settings import ServiceSettings, service_config

OANDA_PRACTICE_URL = "https://api-fxpractice.oanda.com"  # fxTrade (live) is https://api-fxtrade.oanda.com
PROJECTX_TOPSTEPX_URL = "https://api.topstepx.com"  # TopstepX's ProjectX Gateway (practice and funded accounts)
PROJECTX_TOPSTEPX_HUB = "https://rtc.topstepx.com/hubs/user"


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
    broker_poll_interval_s: float = Field(
        default=2.0,
        ge=0,
        description="Live mode: how often every order open or unknown at an external broker is asked for its "
        "state and what is new (later fills, cancels, lost answers) booked (0 = never; replay mode never polls)",
    )
    broker_absent_grace_s: float = Field(
        default=30.0,
        ge=0,
        description="An order whose answer was lost and that its broker does not know is rejected "
        "(not_at_broker) only once it was submitted this long ago: a slow request may still arrive",
    )
    resubmit_max_age_s: float = Field(
        default=60.0,
        ge=0,
        description="After a restart, a market order for an external broker that a crash interrupted in flight "
        "is sent again (same client order id: a broker that has it refuses the duplicate) only if submitted "
        "within this; an older one is not resent but left unknown for the broker poll (booked if the broker "
        "has it, rejected not_at_broker after the grace if not). 0 = never resent. The simulated venue always resumes",
    )
    alert_price_max_age_s: float = Field(
        default=300.0,
        ge=0,
        description="Paper and simulated venues: a proposal's alert price (a TradingView alert's close) serves as "
        "the mark when exec-sim holds no market data, or none within this of the alert, if the alert is at most "
        "this old; the decision, "
        "order and fill say price_source=alert. 0 = never: every order needs market data. Real brokers never do",
    )
    ack_wait_s: float = Field(
        default=10.0, gt=0, description="Unacknowledged messages are redelivered after this (after a crash)"
    )
    recover_on_start: bool = Field(default=True, description="Rebuild positions and decisions from JetStream at start")

    # --- external venues (an account's `venue:` in the accounts YAML names one of these) -------
    oanda_account_id: str | None = Field(default=None, description="OANDA v20 account id; set to enable the venue")
    oanda_token: SecretStr | None = Field(default=None, description="OANDA v20 personal access token")
    oanda_base_url: str = Field(default=OANDA_PRACTICE_URL, description="OANDA REST base URL (default: practice)")
    oanda_venue: str = Field(default="OANDA", min_length=1, description="Venue name accounts use for OANDA")
    oanda_timeout_s: float = Field(default=10.0, gt=0, description="OANDA HTTP timeout per call")
    ccxt_exchange: str | None = Field(default=None, description="ccxt exchange id (e.g. binance); set to enable")
    ccxt_venue: str | None = Field(default=None, description="Venue name accounts use (default: the id, upper case)")
    ccxt_api_key: SecretStr | None = Field(default=None, description="Exchange API key")
    ccxt_secret: SecretStr | None = Field(default=None, description="Exchange API secret")
    ccxt_base_url: str | None = Field(default=None, description="Replaces the exchange's REST hosts (testnet, proxy)")
    ccxt_market_types: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("spot",), description="Market types to load, comma-separated (spot, swap, future)"
    )
    ccxt_timeout_s: float = Field(default=10.0, gt=0, description="ccxt HTTP timeout per call")
    paper_enabled: bool = Field(default=False, description="Enable the PAPER venue (fills at the last price)")
    projectx_user_name: str | None = Field(default=None, description="ProjectX (TopstepX) user name; set to enable")
    projectx_api_key: SecretStr | None = Field(default=None, description="ProjectX API key (from the firm's dashboard)")
    projectx_account: str | None = Field(default=None, description="ProjectX account to trade: its name or id")
    projectx_base_url: str = Field(default=PROJECTX_TOPSTEPX_URL, description="ProjectX Gateway REST base URL")
    projectx_hub_url: str = Field(default=PROJECTX_TOPSTEPX_HUB, description="ProjectX user hub URL (SignalR)")
    projectx_venue: str = Field(default="TOPSTEPX", min_length=1, description="Venue name accounts use for ProjectX")
    projectx_live: bool = Field(
        default=False, description="Allow a funded (not simulated) ProjectX account; accounts need live: true too"
    )
    projectx_requests_per_minute: int = Field(
        default=150, ge=1, le=200, description="Client-side budget, below the gateway's ~200 requests per 60 s"
    )
    projectx_native_brackets: bool = Field(
        default=True,
        description="Place an entry's stop and target as ProjectX's own bracket (stopLossBracket/takeProfitBracket) "
        "in the same request; false: exec-sim places them as separate orders",
    )
    tradovate_name: str | None = Field(default=None, description="Tradovate user name; set to enable the venue")
    tradovate_password: SecretStr | None = Field(default=None, description="Tradovate password")
    tradovate_app_id: str = Field(default="at-exec-sim", description="Tradovate API key's app id")
    tradovate_app_version: str = Field(default="1.0", description="Tradovate app version sent at login")
    tradovate_cid: int | None = Field(default=None, description="Tradovate API key's client id (cid)")
    tradovate_sec: SecretStr | None = Field(default=None, description="Tradovate API key's secret (sec)")
    tradovate_device_id: str = Field(default="at-exec-sim", description="A stable device id sent at login")
    tradovate_account: str | None = Field(default=None, description="Tradovate account to trade: its name or id")
    tradovate_symbols: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="Tradovate contracts to load, comma-separated (e.g. MESZ6,MNQZ6)"
    )
    tradovate_environment: Literal["demo", "live"] = Field(
        default="demo", description="Tradovate environment (live needs live: true on each account too)"
    )
    tradovate_base_url: str | None = Field(default=None, description="Replaces the environment's REST URL")
    tradovate_ws_url: str | None = Field(default=None, description="Replaces the environment's WebSocket URL")
    tradovate_venue: str = Field(default="TRADOVATE", min_length=1, description="Venue name accounts use")
    tradovate_native_brackets: bool = Field(
        default=True,
        description="Place an entry's stop and target as one Tradovate OSO (order/placeoso, the two linked OCO); "
        "false: exec-sim places them as separate orders",
    )
    broker_mismatch_halt: bool = Field(
        default=False,
        description="Halt an account whose positions or balance differ from its broker's (seen twice in a row)",
    )
    broker_balance_check: Literal["change", "absolute", "off"] = Field(
        default="change",
        description="Compare the broker's balance too: change = its change since the check began against exec-sim's "
        "realized P&L less fees over the same span (a prop account's starting balance rarely equals the profile's); "
        "absolute = the balances themselves; off = positions only",
    )
    broker_balance_tolerance: Decimal = Field(
        default=Decimal("1.00"), ge=0, description="A balance difference up to this (account currency) is none"
    )
    broker_check_interval_s: float = Field(
        default=30.0,
        ge=0,
        description="Compare positions and balances with each broker on start and every N seconds (0: never; "
        "replay mode never checks)",
    )
    tradovate_requests_per_minute: int = Field(default=60, ge=1, description="Client-side request budget")

    @field_validator("ccxt_market_types", "tradovate_symbols", mode="before")
    @classmethod
    def _split_types(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(t.strip() for t in value.split(",") if t.strip())
        return value

    @model_validator(mode="after")
    def _venues_complete(self) -> Self:
        if self.oanda_token is not None and not self.oanda_account_id:
            raise ValueError("oanda_token is set without oanda_account_id: set both to enable OANDA")
        if self.oanda_account_id and not _secret(self.oanda_token):
            raise ValueError(f"oanda_account_id={self.oanda_account_id} needs oanda_token")
        if (_secret(self.ccxt_api_key) or _secret(self.ccxt_secret)) and not self.ccxt_exchange:
            raise ValueError("ccxt_api_key/ccxt_secret are set without ccxt_exchange: set it to enable the exchange")
        if self.ccxt_exchange and not (_secret(self.ccxt_api_key) and _secret(self.ccxt_secret)):
            raise ValueError(f"ccxt_exchange={self.ccxt_exchange} needs ccxt_api_key and ccxt_secret")
        if self.projectx_user_name and not (_secret(self.projectx_api_key) and self.projectx_account):
            raise ValueError("projectx_user_name needs projectx_api_key and projectx_account")
        if self.tradovate_name and not (
            _secret(self.tradovate_password) and _secret(self.tradovate_sec) and self.tradovate_cid is not None
        ):
            raise ValueError("tradovate_name needs tradovate_password, tradovate_cid and tradovate_sec")
        if self.tradovate_name and not (self.tradovate_account and self.tradovate_symbols):
            raise ValueError("tradovate_name needs tradovate_account and tradovate_symbols")
        ccxt_venue = (self.ccxt_venue or self.ccxt_exchange.upper()) if self.ccxt_exchange else None
        names = [n for n in (self.oanda_venue if self.oanda_account_id else None, ccxt_venue) if n]
        names += ["PAPER"] if self.paper_enabled else []
        names += [self.projectx_venue] if self.projectx_user_name else []
        names += [self.tradovate_venue] if self.tradovate_name else []
        if len(set(names)) != len(names) or SIM_VENUE in names:
            raise ValueError(f"external venue names must be distinct and not {SIM_VENUE}: {names}")
        if self.environment == "production":
            urls = {"oanda_base_url": self.oanda_base_url if self.oanda_account_id else None}
            urls["ccxt_base_url"] = self.ccxt_base_url if self.ccxt_exchange else None
            if self.projectx_user_name:
                urls |= {"projectx_base_url": self.projectx_base_url, "projectx_hub_url": self.projectx_hub_url}
            if self.tradovate_name:
                urls |= {"tradovate_base_url": self.tradovate_base_url, "tradovate_ws_url": self.tradovate_ws_url}
            for name, url in urls.items():
                if url is not None and urlsplit(url).scheme not in ("https", "wss"):
                    raise ValueError(f"{name}={url}: production sends credentials only over https")
        return self

    def venue_names(self) -> dict[str, str]:
        """The external venues these settings enable: venue name -> kind (oanda, ccxt, paper, projectx, tradovate)."""
        out: dict[str, str] = {}
        if self.oanda_account_id:
            out[self.oanda_venue] = "oanda"
        if self.ccxt_exchange:
            out[self.ccxt_venue or self.ccxt_exchange.upper()] = "ccxt"
        if self.paper_enabled:
            out["PAPER"] = "paper"
        if self.projectx_user_name:
            out[self.projectx_venue] = "projectx"
        if self.tradovate_name:
            out[self.tradovate_venue] = "tradovate"
        return out

    def live_venues(self) -> frozenset[str]:
        """The venues set to route to real-money accounts (an account there must say ``live: true``)."""
        out = {self.projectx_venue} if self.projectx_user_name and self.projectx_live else set()
        if self.tradovate_name and self.tradovate_environment == "live":
            out.add(self.tradovate_venue)
        return frozenset(out)

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


def _secret(value: SecretStr | None) -> bool:
    return value is not None and bool(value.get_secret_value())
