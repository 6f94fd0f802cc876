"""Builds the ProjectX and Tradovate adapters from the settings (clients built, nothing connected)."""

from __future__ import annotations

import httpx

from at_exec_sim.adapters.projectx.broker import ProjectXBroker
from at_exec_sim.adapters.projectx.client import ProjectXClient
from at_exec_sim.adapters.projectx.realtime import UserHub
from at_exec_sim.adapters.ratelimit import RequestBudget
from at_exec_sim.adapters.tradovate.broker import TradovateBroker
from at_exec_sim.adapters.tradovate.client import DEMO_URL, DEMO_WS, LIVE_URL, LIVE_WS, TradovateClient
from at_exec_sim.adapters.tradovate.socket import TradovateSocket
from at_exec_sim.config import ExecSimSettings

TIMEOUT_S = 10.0


def projectx_broker(settings: ExecSimSettings) -> ProjectXBroker:
    """The ProjectX adapter: REST client with its budget, the user hub, live routing as configured."""
    assert settings.projectx_user_name and settings.projectx_api_key and settings.projectx_account  # settings checked
    client = ProjectXClient(
        httpx.AsyncClient(base_url=settings.projectx_base_url, timeout=TIMEOUT_S),
        user_name=settings.projectx_user_name,
        api_key=settings.projectx_api_key.get_secret_value(),
        budget=RequestBudget(settings.projectx_requests_per_minute, 60.0),
        venue=settings.projectx_venue,
    )
    hub = UserHub(settings.projectx_hub_url, lambda: client.token)
    return ProjectXBroker(
        client,
        settings.projectx_account,
        venue=settings.projectx_venue,
        live=settings.projectx_live,
        hub=hub,
        native_brackets=settings.projectx_native_brackets,
    )


def tradovate_broker(settings: ExecSimSettings) -> TradovateBroker:
    """The Tradovate adapter: REST client with its budget and the user-data WebSocket."""
    assert settings.tradovate_name and settings.tradovate_password and settings.tradovate_sec  # settings checked
    assert settings.tradovate_account is not None
    live = settings.tradovate_environment == "live"
    credentials = {
        "name": settings.tradovate_name,
        "password": settings.tradovate_password.get_secret_value(),
        "appId": settings.tradovate_app_id,
        "appVersion": settings.tradovate_app_version,
        "cid": settings.tradovate_cid,
        "sec": settings.tradovate_sec.get_secret_value(),
        "deviceId": settings.tradovate_device_id,
    }
    client = TradovateClient(
        httpx.AsyncClient(base_url=settings.tradovate_base_url or (LIVE_URL if live else DEMO_URL), timeout=TIMEOUT_S),
        credentials=credentials,
        budget=RequestBudget(settings.tradovate_requests_per_minute, 60.0),
        venue=settings.tradovate_venue,
    )
    socket = TradovateSocket(
        settings.tradovate_ws_url or (LIVE_WS if live else DEMO_WS), lambda: client.token, lambda: client.user_id
    )
    return TradovateBroker(
        client,
        settings.tradovate_account,
        settings.tradovate_symbols,
        venue=settings.tradovate_venue,
        socket=socket,
        native_brackets=settings.tradovate_native_brackets,
    )
