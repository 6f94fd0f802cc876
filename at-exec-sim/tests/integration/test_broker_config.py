"""Which venues exist comes from settings; an account on a venue nobody configured stops the service."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from at_exec_sim import bootstrap
from at_exec_sim.adapters.ccxt_broker import CcxtBroker
from at_exec_sim.adapters.oanda_broker import OandaBroker
from at_exec_sim.config import OANDA_PRACTICE_URL, ExecSimSettings
from at_exec_sim.errors import ConfigError
from at_exec_sim.main import create_app

pytestmark = pytest.mark.integration

OANDA = {"oanda_account_id": "101-001-1-001", "oanda_token": "tok-SECRET-1"}
BINANCE = {"ccxt_exchange": "binance", "ccxt_api_key": "key-1", "ccxt_secret": "sec-SECRET-2"}


def accounts(tmp_path: Path, venue: str) -> str:
    path = tmp_path / "accounts.yaml"
    path.write_text(f"accounts:\n  - {{account_id: acct-1, profile: retail, venue: {venue}}}\n")
    return str(path)


async def test_an_account_on_an_unknown_venue_stops_the_service_at_start(tmp_path: Path) -> None:
    app = create_app(ExecSimSettings(accounts_file=accounts(tmp_path, "KRAKEN"), nats_url="nats://127.0.0.1:1"))
    with pytest.raises(ConfigError, match=r"account acct-1: venue 'KRAKEN' is not configured \(configured: SIM\)"):
        async with app.router.lifespan_context(app):
            pass


@pytest.mark.parametrize("environment", ["dev", "production"])
def test_an_oanda_account_without_oanda_settings_fails_closed_naming_the_settings(
    tmp_path: Path, environment: str
) -> None:
    settings = ExecSimSettings(environment=environment, accounts_file=accounts(tmp_path, "OANDA"))
    with pytest.raises(ConfigError, match="AT_EXEC_SIM_OANDA_ACCOUNT_ID and AT_EXEC_SIM_OANDA_TOKEN"):
        bootstrap.build(settings)


def test_configured_venues_get_adapters_and_their_accounts_start(tmp_path: Path) -> None:
    settings = ExecSimSettings(accounts_file=accounts(tmp_path, "BINANCE"), **OANDA, **BINANCE)
    svc = bootstrap.build(settings)
    links = svc.venues.links
    assert set(links) == {"OANDA", "BINANCE"}
    assert isinstance(links["OANDA"].adapter, OandaBroker) and isinstance(links["BINANCE"].adapter, CcxtBroker)
    assert str(links["OANDA"].adapter.client.base_url).rstrip("/") == OANDA_PRACTICE_URL  # practice by default
    assert not any(link.connected for link in links.values())  # nothing connects before start


def test_the_defaults_configure_no_external_venue() -> None:
    settings = ExecSimSettings()
    assert settings.venue_names() == {}
    assert bootstrap.build(settings).venues.links == {}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"oanda_account_id": "101-001-1-001"}, "needs oanda_token"),
        ({"oanda_token": "tok"}, "without oanda_account_id"),
        ({"ccxt_exchange": "binance", "ccxt_api_key": "k"}, "needs ccxt_api_key and ccxt_secret"),
        ({"ccxt_secret": "s"}, "without ccxt_exchange"),
        ({**OANDA, "oanda_venue": "SIM"}, "distinct and not SIM"),
        ({**OANDA, **BINANCE, "ccxt_venue": "OANDA"}, "distinct"),
    ],
)
def test_a_half_configured_venue_is_refused_by_the_settings(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ExecSimSettings(**fields)


def test_production_sends_credentials_only_over_https() -> None:
    with pytest.raises(ValidationError, match=r"oanda_base_url=http://broker\.local: production"):
        ExecSimSettings(environment="production", oanda_base_url="http://broker.local", **OANDA)
    with pytest.raises(ValidationError, match=r"ccxt_base_url=http://x\.local"):
        ExecSimSettings(environment="production", ccxt_base_url="http://x.local", **BINANCE)
    ExecSimSettings(environment="dev", oanda_base_url="http://127.0.0.1:1", **OANDA)  # loopback fakes in dev


def test_an_unknown_ccxt_exchange_id_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'nosuchexchange' is not a ccxt exchange id"):
        bootstrap.build(ExecSimSettings(**{**BINANCE, "ccxt_exchange": "nosuchexchange"}))


def test_venues_come_from_the_environment_and_secrets_stay_out_of_reprs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AT_EXEC_SIM_CCXT_EXCHANGE", "bybit")
    monkeypatch.setenv("AT_EXEC_SIM_CCXT_API_KEY", "key-1")
    monkeypatch.setenv("AT_EXEC_SIM_CCXT_SECRET", "sec-SECRET-2")
    monkeypatch.setenv("AT_EXEC_SIM_CCXT_MARKET_TYPES", "spot, swap")
    monkeypatch.setenv("AT_EXEC_SIM_OANDA_ACCOUNT_ID", OANDA["oanda_account_id"])
    monkeypatch.setenv("AT_EXEC_SIM_OANDA_TOKEN", OANDA["oanda_token"])
    settings = ExecSimSettings()
    assert settings.venue_names() == {"OANDA": "oanda", "BYBIT": "ccxt"}
    assert settings.ccxt_market_types == ("spot", "swap")
    text = repr(settings) + str(settings.model_dump())
    assert "sec-SECRET-2" not in text and "tok-SECRET-1" not in text
