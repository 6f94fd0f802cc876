"""The ProjectX and Tradovate venues from settings: enabled only when complete, demo by default,
live routing only with the venue's switch *and* the account's ``live: true``."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from at_exec_sim import bootstrap
from at_exec_sim.adapters.projectx.broker import ProjectXBroker
from at_exec_sim.adapters.tradovate.broker import TradovateBroker
from at_exec_sim.adapters.tradovate.client import DEMO_URL
from at_exec_sim.config import PROJECTX_TOPSTEPX_URL, ExecSimSettings
from at_exec_sim.errors import ConfigError

pytestmark = pytest.mark.integration

PROJECTX = {"projectx_user_name": "me", "projectx_api_key": "pxk-SECRET-1", "projectx_account": "50KTC-1"}
TRADOVATE = {
    "tradovate_name": "me",
    "tradovate_password": "pw-SECRET-2",
    "tradovate_cid": 8,
    "tradovate_sec": "sec-SECRET-3",
    "tradovate_account": "DEMO1",
    "tradovate_symbols": "MESZ6,MNQZ6",
}


def accounts(tmp_path: Path, rows: str) -> str:
    path = tmp_path / "accounts.yaml"
    path.write_text(f"accounts:\n{rows}")
    return str(path)


def test_both_platforms_get_adapters_on_their_demo_side_and_connect_nothing_before_start(tmp_path: Path) -> None:
    rows = "  - {account_id: ts-1, profile: topstepx_50k, venue: TOPSTEPX}\n"
    rows += "  - {account_id: tv-1, profile: topstepx_50k, venue: TRADOVATE}\n"
    svc = bootstrap.build(ExecSimSettings(accounts_file=accounts(tmp_path, rows), **PROJECTX, **TRADOVATE))
    px, tv = svc.venues.links["TOPSTEPX"].adapter, svc.venues.links["TRADOVATE"].adapter
    assert isinstance(px, ProjectXBroker) and isinstance(tv, TradovateBroker)
    assert str(px.client.http.base_url).rstrip("/") == PROJECTX_TOPSTEPX_URL and px.live is False
    assert str(tv.client.http.base_url).rstrip("/") == DEMO_URL and tv.symbols == ("MESZ6", "MNQZ6")
    assert not any(link.connected for link in svc.venues.links.values())


@pytest.mark.parametrize(
    "partial",
    [
        {"projectx_user_name": "me"},
        {"projectx_user_name": "me", "projectx_api_key": "k"},
        {k: v for k, v in TRADOVATE.items() if k != "tradovate_sec"},
        {k: v for k, v in TRADOVATE.items() if k != "tradovate_symbols"},
    ],
)
def test_half_a_platforms_settings_is_refused(partial: dict) -> None:
    with pytest.raises(ValidationError):
        ExecSimSettings(**partial)


@pytest.mark.parametrize(
    ("switch", "venue"),
    [({"projectx_live": True}, "TOPSTEPX"), ({"tradovate_environment": "live"}, "TRADOVATE")],
)
def test_a_live_venue_needs_live_true_on_the_account(tmp_path: Path, switch: dict, venue: str) -> None:
    row = f"  - {{account_id: funded-1, profile: topstepx_50k, venue: {venue}}}\n"
    settings = ExecSimSettings(accounts_file=accounts(tmp_path, row), **PROJECTX, **TRADOVATE, **switch)
    with pytest.raises(ConfigError, match=r"account funded-1: .*needs live: true"):
        bootstrap.build(settings)
    row = f"  - {{account_id: funded-1, profile: topstepx_50k, venue: {venue}, live: true}}\n"
    settings = ExecSimSettings(accounts_file=accounts(tmp_path, row), **PROJECTX, **TRADOVATE, **switch)
    assert venue in bootstrap.build(settings).venues.links


def test_production_refuses_plain_http_platform_urls_and_secrets_stay_out_of_reprs() -> None:
    with pytest.raises(ValidationError, match="projectx_base_url"):
        ExecSimSettings(environment="production", projectx_base_url="http://gateway.example", **PROJECTX)
    text = repr(ExecSimSettings(**PROJECTX, **TRADOVATE))
    assert "SECRET" not in text
