"""Gateway settings: environment / .env only, prefix ``AT_GATEWAY_``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal, Self

from pydantic import Field, SecretStr, model_validator

from at_core.constants import DEFAULT_ACCOUNT_ID, DEFAULT_PORTS, DEFAULT_STRATEGY_ID, SERVICE_GATEWAY
from at_core.runtime.settings import ServiceSettings, service_config

DEV_WEBHOOK_SECRET = "dev-webhook-secret"  # noqa: S105 - refused in production
DEV_API_KEY = "dev-api-key"
TRADINGVIEW_IPS = "52.89.214.238,34.212.75.30,54.218.53.128,52.32.178.7"


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


class GatewaySettings(ServiceSettings):
    """Every gateway setting, with a safe default for a fresh clone (dev secrets, paper account)."""

    model_config = service_config("AT_GATEWAY_")

    port: int = Field(default=DEFAULT_PORTS[SERVICE_GATEWAY], ge=0, le=65535, description="HTTP port")
    webhook_secrets: SecretStr = Field(
        default=SecretStr(DEV_WEBHOOK_SECRET),
        description="Comma-separated valid webhook secrets (several during rotation)",
    )
    api_keys: SecretStr = Field(
        default=SecretStr(DEV_API_KEY), description="Comma-separated API keys for POST /orders (X-API-Key)"
    )
    routes_file: str | None = Field(
        default=None, description="YAML/JSON file mapping secrets to accounts and strategies"
    )
    default_account_id: str = Field(default=DEFAULT_ACCOUNT_ID, description="Account for secrets with no route")
    default_strategy_id: str = Field(default=DEFAULT_STRATEGY_ID, description="Strategy for secrets with no route")
    max_body_bytes: int = Field(default=64 * 1024, gt=0, description="Largest webhook/ingest body accepted (413 above)")
    max_image_bytes: int = Field(default=5 * 1024 * 1024, gt=0, description="Largest screenshot accepted")
    stale_after_s: float = Field(
        default=300.0, gt=0, description="Alerts whose time/timenow is older are refused (422)"
    )
    dedup_window_s: float = Field(default=86_400.0, gt=0, description="Window in which a repeated alert is a duplicate")
    rate_limit_per_minute: int = Field(
        default=600, gt=0, description="Requests per minute per route and source address"
    )
    route_rate_limit_per_minute: int = Field(
        default=6000, gt=0, description="Requests per minute per route, all sources together"
    )
    market_data_api_key_required: bool = Field(
        default=False, description="POST /ingest/market-data needs X-API-Key (always on in production)"
    )
    allowlist_enabled: bool = Field(default=False, description="Only accept webhooks from allowlist_ips")
    allowlist_ips: str = Field(default=TRADINGVIEW_IPS, description="Comma-separated allowed source addresses")
    trusted_proxies: str = Field(default="", description="Comma-separated proxies whose X-Forwarded-For is believed")
    outbox_path: str = Field(default="var/gateway-outbox.sqlite3", description="SQLite outbox used while NATS is down")
    publish_timeout_s: float = Field(
        default=1.0, gt=0, description="Wait this long for a JetStream ack before using the outbox"
    )

    max_json_depth: int = Field(
        default=32, gt=0, le=256, description="Deepest JSON nesting accepted in a body (422 too_deep above)"
    )
    max_quantity: Decimal = Field(
        default=Decimal(100),
        gt=0,
        description="Largest quantity for an instrument with no bound of its own or of its asset class (422 above)",
    )
    max_quantity_per_asset_class: dict[str, Decimal] = Field(
        default_factory=lambda: {"future": 100, "fx": 10_000_000, "crypto_spot": 1000, "crypto_perp": 1000},
        description="Largest quantity per asset class, in its unit (contracts, FX units, coins); 422 above",
    )
    max_quantity_per_instrument: dict[str, Decimal] = Field(
        default_factory=dict,
        description='Largest quantity per instrument id, JSON: {"MES.CME": 20, "BTC/USDT.BINANCE": 2}',
    )
    refusals_per_source_per_minute: int = Field(
        default=120,
        gt=0,
        description="Refused requests per source and minute kept as dead letters; beyond, 429 and nothing kept",
    )
    dead_letters_per_minute: int = Field(
        default=1200, gt=0, description="Dead letters the gateway publishes per minute, all sources together"
    )
    answer_within_s: float = Field(
        default=0.8,
        gt=0,
        le=2.5,
        description="Every answer within this (TradingView waits 3 s): bounds dedup, publish, dead letter",
    )
    http_read_timeout_s: float = Field(
        default=10.0, gt=0, description="A request's headers and body must arrive within this (slow clients are cut)"
    )
    http_keep_alive_timeout_s: float = Field(
        default=5.0, gt=0, description="An idle keep-alive connection is closed after this"
    )
    server: Literal["uvicorn", "granian"] = Field(
        default="uvicorn",
        description="HTTP server: uvicorn (httptools, the slow-client guard of at_gateway.server) or granian (Rust)",
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Worker processes on the one port; each has its own outbox (outbox_path, then outbox_path.wN)",
    )
    http_limit_concurrency: int = Field(
        default=1000, gt=0, description="Connections and requests at once; beyond, uvicorn answers 503"
    )

    @property
    def secrets(self) -> list[str]:
        return _csv(self.webhook_secrets.get_secret_value())

    @property
    def keys(self) -> list[str]:
        return _csv(self.api_keys.get_secret_value())

    @property
    def allowed_ips(self) -> set[str]:
        return set(_csv(self.allowlist_ips))

    @property
    def proxies(self) -> set[str]:
        return set(_csv(self.trusted_proxies))

    @property
    def known_secrets(self) -> list[str]:
        """Every secret this gateway holds, for redaction (webhook secrets, API keys, NATS password)."""
        nats = [self.nats_password.get_secret_value()] if self.nats_password else []
        return [*self.secrets, *self.keys, *nats]

    def server_options(self) -> dict[str, Any]:
        """uvicorn settings against slow clients (the header/body read bound is applied by the app)."""
        return {
            "timeout_keep_alive": self.http_keep_alive_timeout_s,
            "limit_concurrency": self.http_limit_concurrency,
        }

    @model_validator(mode="after")
    def _no_dev_secrets_in_production(self) -> Self:
        if self.environment == "production":
            if not self.secrets or DEV_WEBHOOK_SECRET in self.secrets:
                raise ValueError("production needs AT_GATEWAY_WEBHOOK_SECRETS set to real secrets")
            if not self.keys or DEV_API_KEY in self.keys:
                raise ValueError("production needs AT_GATEWAY_API_KEYS set to real keys")
            if not self.market_data_api_key_required:
                # exec-sim prices orders from these quotes: unauthenticated prices are a way to move fills
                raise ValueError("production needs AT_GATEWAY_MARKET_DATA_API_KEY_REQUIRED=true")
        return self
