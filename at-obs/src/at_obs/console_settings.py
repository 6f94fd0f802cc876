"""Settings of the console and the notifier: environment / .env, prefix ``AT_OBS_`` like the recorder's.

Dev defaults let a fresh clone sign in (the keys are printed by nobody: they are these
constants); under ``environment=production`` they, a short key or a key shared by two roles
refuse to start.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from at_core.constants import DEFAULT_PORTS, SERVICE_AGENTS, SERVICE_EXEC_SIM, SERVICE_GATEWAY
from at_core.runtime.settings import ServiceSettings, service_config

DEV_KEYS = {"operator": "dev-operator-key", "trader": "dev-trader-key", "viewer": "dev-viewer-key"}
DEV_SESSION_SECRET = "dev-console-session-secret-not-for-production"  # noqa: S105 - refused in production
MIN_SECRET_CHARS = 16
#: What a notification route can ask for.
NOTIFY_KINDS = (
    "fill",
    "denied",
    "rejected",
    "halt",
    "reducing",
    "lock",
    "resume",
    "kill_switch",
    "broker_mismatch",  # exec-sim's positions or balance differ from the broker's
    "broker_restored",  # ... and agree again
)


def _default_health() -> dict[str, str]:
    return {
        name: f"http://127.0.0.1:{DEFAULT_PORTS[name]}/readyz"
        for name in (SERVICE_GATEWAY, SERVICE_AGENTS, SERVICE_EXEC_SIM)
    }


class NotifyRoute(BaseModel):
    """Where notifications of some kinds, for some accounts, go: apprise URLs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    urls: list[SecretStr] = Field(min_length=1, description="apprise URLs (tgram://, slack://, mailto://, json://)")
    kinds: list[str] = Field(default_factory=lambda: list(NOTIFY_KINDS))
    accounts: list[str] = Field(default_factory=lambda: ["*"], description="account ids, or * for every account")

    @model_validator(mode="after")
    def _known_kinds(self) -> NotifyRoute:
        unknown = sorted(set(self.kinds) - set(NOTIFY_KINDS))
        if unknown:
            raise ValueError(f"unknown notification kinds {unknown}; known: {list(NOTIFY_KINDS)}")
        return self


class ConsoleSettings(ServiceSettings):
    """Console sign-in, where the other services answer, and notification routes."""

    model_config = service_config("AT_OBS_")

    console_enabled: bool = Field(default=True, description="Serve the console under /console")
    console_operator_key: SecretStr = Field(default=SecretStr(DEV_KEYS["operator"]), description="Operator sign-in key")
    console_trader_key: SecretStr = Field(default=SecretStr(DEV_KEYS["trader"]), description="Trader sign-in key")
    console_viewer_key: SecretStr = Field(default=SecretStr(DEV_KEYS["viewer"]), description="Viewer sign-in key")
    console_session_secret: SecretStr = Field(
        default=SecretStr(DEV_SESSION_SECRET), description="HMAC secret that signs session cookies"
    )
    console_session_ttl_s: int = Field(default=8 * 3600, gt=0, description="How long a sign-in lasts")
    exec_sim_url: str = Field(
        default=f"http://127.0.0.1:{DEFAULT_PORTS[SERVICE_EXEC_SIM]}", description="exec-sim control API (kill switch)"
    )
    exec_sim_api_key: SecretStr | None = Field(
        default=None, description="Bearer key the console sends to exec-sim's control API (its operator key)"
    )
    console_health_urls: dict[str, str] = Field(
        default_factory=_default_health, description="Service name -> readiness URL shown on the health page"
    )
    prometheus_url: str | None = Field(default=None, description="Prometheus base URL, for alerts firing")
    alertmanager_url: str | None = Field(default=None, description="Alertmanager base URL, for silences and alerts")
    alertmanager_webhook_urls: list[str] = Field(
        default_factory=list, description="JSON list of webhook URLs Alertmanager sends every alert to"
    )
    alertmanager_critical_webhook_urls: list[str] = Field(
        default_factory=list, description="JSON list of extra webhook URLs for critical alerts only (a pager)"
    )
    notify_routes: list[NotifyRoute] = Field(default_factory=list, description="JSON list of notification routes")
    notify_max_per_minute: int = Field(default=6, ge=1, description="Notifications sent one by one per minute")
    notify_digest_interval_s: float = Field(default=60.0, gt=0, description="How often the rest go as one digest")
    notify_durable: str = Field(default="notifier", pattern=r"^[A-Za-z0-9_-]+$", description="Notifier durable prefix")
    notify_retry_delay_s: float = Field(default=5.0, gt=0, description="Wait before a failed send is tried again")
    notify_send_timeout_s: float = Field(default=10.0, gt=0, description="Longest a single send may take")

    def role_keys(self) -> dict[str, str]:
        return {
            "operator": self.console_operator_key.get_secret_value(),
            "trader": self.console_trader_key.get_secret_value(),
            "viewer": self.console_viewer_key.get_secret_value(),
        }

    @model_validator(mode="after")
    def _safe_in_production(self) -> ConsoleSettings:
        if self.environment != "production" or not self.console_enabled:
            return self
        keys = self.role_keys()
        for role, key in keys.items():
            if key == DEV_KEYS[role] or len(key) < MIN_SECRET_CHARS:
                raise ValueError(
                    f"production needs AT_OBS_CONSOLE_{role.upper()}_KEY of {MIN_SECRET_CHARS}+ characters "
                    "(the dev default is refused)"
                )
        if len(set(keys.values())) != len(keys):
            raise ValueError("production needs a different console key per role")
        secret = self.console_session_secret.get_secret_value()
        if secret == DEV_SESSION_SECRET or len(secret) < 32:
            raise ValueError("production needs AT_OBS_CONSOLE_SESSION_SECRET of 32+ characters")
        return self
