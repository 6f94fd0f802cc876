"""Broker-health metrics move where the adapters see things happen: 429s and Tradovate penalty
tickets, budget waits, token renewals and failures, real-time (re)connects and failed requests,
against the ProjectX and Tradovate fakes on loopback with the real clients; and exec-sim wires
them to its /metrics."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tests.fakes.projectx import FakeProjectX
from tests.fakes.tradovate import FakeTradovate
from tests.helpers import T0
from tests.integration.test_broker_routing import Service
from tests.integration.test_projectx_adapter import Clock
from tests.integration.test_projectx_adapter import make as make_px
from tests.integration.test_prop_broker_routing import Prop
from tests.integration.test_prop_broker_routing import prop as prop  # the fixture
from tests.integration.test_tradovate_adapter import buy
from tests.integration.test_tradovate_adapter import make as make_tv
from tests.wire import serve

from at_core.clock import ManualClock
from at_core.metrics import Metrics
from at_core.metrics.exec_sim import CATALOG
from at_exec_sim.adapters.health import MetricsHealth
from at_exec_sim.errors import VenueUnavailableError

pytestmark = pytest.mark.integration
D = Decimal


def value(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(f"at_exec_sim_{name}", labels) or 0.0


async def test_projectx_counts_a_429_its_budget_wait_a_renewal_a_failed_request_and_hub_connects() -> None:
    fake, clock, metrics = FakeProjectX(), Clock(), CATALOG.build()
    async with serve(fake.app()) as url:
        broker = make_px(fake, url, clock=clock)
        broker.set_health(MetricsHealth(metrics, "TOPSTEPX"))
        inst = {i.symbol: i for i in await broker.connect()}
        await fake.hub.until(lambda: fake.hub.subscribed("SubscribeTrades") == 1)
        assert value(metrics, "broker_realtime_connects_total", venue="TOPSTEPX") == 1
        fake.throttle_next, fake.retry_after_s = 1, 0.05
        await broker.submit("P-01JH1", inst["MESZ6"], buy("1"))
        assert value(metrics, "broker_rate_limited_total", venue="TOPSTEPX", answer="http_429") == 1
        assert value(metrics, "broker_budget_waits_total", venue="TOPSTEPX") >= 1  # held for the 429's pause
        clock.t += 23.5 * 3600  # the token nears its 24 hours
        await broker.balances()
        assert value(metrics, "broker_token_renewals_total", venue="TOPSTEPX") == 1
        assert value(metrics, "broker_token_failures_total", venue="TOPSTEPX") == 0
        fake.lose_next_places = 1  # a 502 after the order left
        with pytest.raises(VenueUnavailableError):
            await broker.submit("P-01JH2", inst["MESZ6"], buy("1"))
        assert value(metrics, "broker_request_errors_total", venue="TOPSTEPX", kind="http_5xx") == 1
        await fake.hub.drop()
        await fake.hub.until(lambda: fake.hub.connections == 2 and fake.hub.subscribed("SubscribeTrades") == 1)
        await fake.hub.until(lambda: value(metrics, "broker_realtime_connects_total", venue="TOPSTEPX") == 2)
        await broker.close()


async def test_projectx_counts_refused_credentials_as_a_token_failure() -> None:
    fake, metrics = FakeProjectX(), CATALOG.build()
    async with serve(fake.app()) as url:
        broker = make_px(fake, url, hub=False)
        broker.set_health(MetricsHealth(metrics, "TOPSTEPX"))
        broker.client._api_key = "revoked"
        with pytest.raises(VenueUnavailableError):
            await broker.connect()
        assert value(metrics, "broker_token_failures_total", venue="TOPSTEPX") == 1
        await broker.close()


async def test_tradovate_counts_a_penalty_ticket_a_429_a_renewal_and_socket_reconnects() -> None:
    fake, metrics = FakeTradovate(token_minutes=10), CATALOG.build()  # inside the renewal margin
    async with serve(fake.app()) as url:
        broker = make_tv(fake, url)
        broker.set_health(MetricsHealth(metrics, "TRADOVATE"))
        inst = {i.symbol: i for i in await broker.connect()}
        assert value(metrics, "broker_token_renewals_total", venue="TRADOVATE") >= 1
        await fake.until(lambda: fake.synced == 1)
        fake.penalize_next = 1
        await broker.submit("P-01JH3", inst["MESZ6"], buy("1"))
        assert value(metrics, "broker_rate_limited_total", venue="TRADOVATE", answer="penalty") == 1
        assert value(metrics, "broker_budget_waits_total", venue="TRADOVATE") >= 1  # the ticket's wait
        fake.throttle_next = 1
        with pytest.raises(VenueUnavailableError, match="429"):
            await broker.balances()
        assert value(metrics, "broker_rate_limited_total", venue="TRADOVATE", answer="http_429") == 1
        assert value(metrics, "broker_realtime_connects_total", venue="TRADOVATE") == 1
        await fake.drop()
        await fake.until(lambda: fake.synced == 2)
        await fake.until(lambda: value(metrics, "broker_realtime_connects_total", venue="TRADOVATE") == 2)
        await broker.close()


async def test_exec_sim_shows_its_brokers_health_on_metrics(prop: Prop) -> None:
    async with Service(prop.settings, ManualClock(T0)) as svc:
        await prop.px.hub.until(lambda: prop.px.hub.subscribed("SubscribeTrades") == 1)
        await prop.tv.until(lambda: prop.tv.synced >= 1)
        metrics = svc.exec_sim.metrics
        await prop.tv.until(lambda: value(metrics, "broker_realtime_connects_total", venue="TRADOVATE") == 1)
        assert value(metrics, "broker_realtime_connects_total", venue="TOPSTEPX") == 1
        prop.px.throttle_next, prop.px.retry_after_s = 1, 600  # a long 429: the check cannot be made
        assert await svc.exec_sim.check_brokers() == []
        text = (await svc.client.get("/metrics")).text
        assert 'at_exec_sim_broker_rate_limited_total{answer="http_429",venue="TOPSTEPX"} 1.0' in text
        assert 'at_exec_sim_broker_checks_failed_total{venue="TOPSTEPX"} 1.0' in text


async def test_oanda_and_a_ccxt_exchange_count_their_failed_requests_too() -> None:
    from tests.fakes.binance import FakeBinance
    from tests.fakes.oanda import FakeOanda

    from at_exec_sim.adapters.ccxt_broker import CcxtBroker
    from at_exec_sim.adapters.oanda_broker import OandaBroker

    metrics = CATALOG.build()
    oanda_fake, binance_fake = FakeOanda(), FakeBinance()
    async with serve(oanda_fake.app()) as oanda_url, serve(binance_fake.app()) as binance_url:
        oanda = OandaBroker.create(account_id=oanda_fake.account_id, token=oanda_fake.token, base_url=oanda_url)
        oanda.set_health(MetricsHealth(metrics, "OANDA"))
        binance = CcxtBroker.create(
            "binance", venue="BINANCE", api_key=binance_fake.api_key, secret=binance_fake.secret, base_url=binance_url
        )
        binance.set_health(MetricsHealth(metrics, "BINANCE"))
        try:
            eur = {i.symbol: i for i in await oanda.connect()}["EUR/USD"]
            btc = {i.instrument_id: i for i in await binance.connect()}["BTC/USDT.BINANCE"]
            oanda_fake.down = binance_fake.down = True  # each answers 503
            with pytest.raises(VenueUnavailableError):
                await oanda.order_status("P-01JANY", eur)
            with pytest.raises(VenueUnavailableError):
                await binance.order_status("O-ANY", btc)
        finally:
            await oanda.close()
            await binance.close()
    assert value(metrics, "broker_request_errors_total", venue="OANDA", kind="http_5xx") == 1
    assert value(metrics, "broker_request_errors_total", venue="BINANCE", kind="http_5xx") == 1
