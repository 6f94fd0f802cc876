"""Builds the broker adapters the settings enable, and checks every account's venue against them.

No network here: adapters connect (load instruments) when the service starts. Secrets are
unwrapped only to hand them to the client library; they are never logged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from decimal import Decimal

import ccxt.async_support as ccxt_async

from at_core.constants import SIM_VENUE
from at_exec_sim.adapters.ccxt_broker import CcxtBroker
from at_exec_sim.adapters.oanda_broker import OandaBroker
from at_exec_sim.adapters.paper import PaperBroker
from at_exec_sim.adapters.venues import projectx_broker, tradovate_broker
from at_exec_sim.config import ExecSimSettings
from at_exec_sim.domain.accounts import AccountConfig
from at_exec_sim.domain.ports import BrokerAdapter
from at_exec_sim.errors import ConfigError

_HOW = {
    "oanda": "AT_EXEC_SIM_OANDA_ACCOUNT_ID and AT_EXEC_SIM_OANDA_TOKEN (venue name AT_EXEC_SIM_OANDA_VENUE)",
    "ccxt": "AT_EXEC_SIM_CCXT_EXCHANGE, AT_EXEC_SIM_CCXT_API_KEY and AT_EXEC_SIM_CCXT_SECRET "
    "(venue name AT_EXEC_SIM_CCXT_VENUE, default the exchange id in upper case)",
    "paper": "AT_EXEC_SIM_PAPER_ENABLED=true (venue name PAPER)",
    "projectx": "AT_EXEC_SIM_PROJECTX_USER_NAME, AT_EXEC_SIM_PROJECTX_API_KEY and AT_EXEC_SIM_PROJECTX_ACCOUNT "
    "(venue name AT_EXEC_SIM_PROJECTX_VENUE, default TOPSTEPX)",
    "tradovate": "AT_EXEC_SIM_TRADOVATE_NAME, _PASSWORD, _CID, _SEC, _ACCOUNT and _SYMBOLS "
    "(venue name AT_EXEC_SIM_TRADOVATE_VENUE, default TRADOVATE)",
}


def check_accounts(accounts: Mapping[str, AccountConfig], settings: ExecSimSettings) -> None:
    """Every account's venue is the simulated venue or one these settings configure (fail closed),
    and no external venue is named by two accounts.

    A configured venue is one broker account: two exec-sim accounts on it would each apply the
    firm's rules (daily loss, drawdown) to half of its P&L, and the broker's positions could not be
    compared with either one's.

    Raises:
        ConfigError: an account names a venue nobody configured (the message says how to configure
            it), or a venue another account names too.
    """
    configured = settings.venue_names()
    live = settings.live_venues()
    owner: dict[str, str] = {}
    for account_id, cfg in sorted(accounts.items()):
        if cfg.venue != SIM_VENUE and (first := owner.setdefault(cfg.venue, account_id)) != account_id:
            raise ConfigError(
                f"account {account_id}",
                f"venue {cfg.venue} is account {first}'s already: a venue is one broker account, traded and "
                "checked (positions, the firm's rules) as one exec-sim account; configure a venue per broker account",
            )
        if cfg.venue in live and not cfg.live:
            raise ConfigError(
                f"account {account_id}",
                f"venue {cfg.venue} is set to route to real-money accounts: the account needs live: true "
                "(or keep the venue on its demo/practice environment)",
            )
        if cfg.venue == SIM_VENUE or cfg.venue in configured:
            continue
        known = ", ".join([SIM_VENUE, *sorted(configured)])
        raise ConfigError(
            f"account {account_id}",
            f"venue {cfg.venue!r} is not configured (configured: {known}); for OANDA set {_HOW['oanda']}; "
            f"for a ccxt exchange set {_HOW['ccxt']}; for paper set {_HOW['paper']}; for ProjectX set "
            f"{_HOW['projectx']}; for Tradovate set {_HOW['tradovate']}",
        )


#: Venue kinds at which exec-sim manages bracket children at the broker (``routing.py`` places,
#: modifies and cancels them; ``domain/brackets.py`` runs the OCO): every external kind. ProjectX
#: and Tradovate place them natively where set to (``native_brackets.py``); at OANDA and the paper
#: broker they are emulated (reduce-only stop and limit placed after the entry fills); at a ccxt
#: spot market the two go as one exchange OCO list (``ccxt_oco.py``), and the adapter refuses a
#: bracketed entry it cannot protect (``bracket_unsupported``: perpetuals, limit and sell entries).
BRACKET_KINDS = frozenset({"projectx", "tradovate", "oanda", "paper", "ccxt"})


def with_bracket_venues(accounts: Mapping[str, AccountConfig], settings: ExecSimSettings) -> dict[str, AccountConfig]:
    """The accounts, those at a venue of a :data:`BRACKET_KINDS` kind marked ``brackets_at_venue``."""
    kinds = settings.venue_names()
    return {
        account_id: replace(cfg, brackets_at_venue=kinds.get(cfg.venue) in BRACKET_KINDS)
        for account_id, cfg in accounts.items()
    }


def build_adapters(settings: ExecSimSettings, last_price: Callable[[str], Decimal | None]) -> dict[str, BrokerAdapter]:
    """One adapter per configured external venue, by venue name (clients built, not connected).

    Args:
        settings: the service's settings.
        last_price: the last price per instrument id (the paper broker fills at it).

    Raises:
        ConfigError: an unknown ccxt exchange id.
    """
    out: dict[str, BrokerAdapter] = {}
    for venue, kind in settings.venue_names().items():
        if kind == "oanda":
            assert settings.oanda_account_id is not None and settings.oanda_token is not None  # settings checked
            out[venue] = OandaBroker.create(
                account_id=settings.oanda_account_id,
                token=settings.oanda_token.get_secret_value(),
                base_url=settings.oanda_base_url,
                venue=venue,
                timeout_s=settings.oanda_timeout_s,
            )
        elif kind == "ccxt":
            out[venue] = _ccxt(settings, venue)
        elif kind == "projectx":
            out[venue] = projectx_broker(settings)
        elif kind == "tradovate":
            out[venue] = tradovate_broker(settings)
        else:
            out[venue] = PaperBroker(last_price, cash={})
    return out


def _ccxt(settings: ExecSimSettings, venue: str) -> CcxtBroker:
    exchange_id = settings.ccxt_exchange or ""
    if exchange_id not in ccxt_async.exchanges:
        raise ConfigError("ccxt_exchange", f"{exchange_id!r} is not a ccxt exchange id")
    assert settings.ccxt_api_key is not None and settings.ccxt_secret is not None  # settings checked
    broker = CcxtBroker.create(
        exchange_id,
        venue=venue,
        api_key=settings.ccxt_api_key.get_secret_value(),
        secret=settings.ccxt_secret.get_secret_value(),
        base_url=settings.ccxt_base_url,
        market_types=settings.ccxt_market_types,
    )
    broker.exchange.timeout = int(settings.ccxt_timeout_s * 1000)  # ccxt counts milliseconds
    return broker
