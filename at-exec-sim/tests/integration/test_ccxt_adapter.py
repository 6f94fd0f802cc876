"""The ccxt adapter against Binance's REST API served on loopback: real ccxt, fake exchange at the wire."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from tests.fakes.binance import FakeBinance
from tests.wire import serve

from at_core.models.enums import OrderSide, OrderType
from at_core.models.instruments import CryptoSpot
from at_core.models.orders import OrderSpec
from at_exec_sim.adapters.ccxt_broker import CcxtBroker, exchange_client_id
from at_exec_sim.domain.ports import BrokerAdapter, ReportStatus
from at_exec_sim.errors import VenueUnavailableError

pytestmark = pytest.mark.integration
D = Decimal


@pytest.fixture
async def exchange() -> AsyncIterator[tuple[FakeBinance, CcxtBroker]]:
    fake = FakeBinance()
    async with serve(fake.app()) as url:
        broker = CcxtBroker.create("binance", venue="BINANCE", api_key=fake.api_key, secret=fake.secret, base_url=url)
        try:
            yield fake, broker
        finally:
            await broker.close()


async def test_precision_and_limits_come_from_ccxts_market_structure(exchange) -> None:
    _fake, broker = exchange
    instruments = {i.instrument_id: i for i in await broker.connect()}
    btc = instruments["BTC/USDT.BINANCE"]
    assert isinstance(btc, CryptoSpot) and isinstance(broker, BrokerAdapter)
    assert (btc.price_increment, btc.size_increment, btc.min_quantity, btc.min_notional) == (
        D("0.01"),
        D("0.00001"),
        D("0.00001"),
        D("5"),
    )
    assert btc.round_quantity(D("0.123456")) == D("0.12345")


async def test_a_market_buy_fills_with_the_fee_valued_in_the_quote_currency(exchange) -> None:
    fake, broker = exchange
    btc = {i.instrument_id: i for i in await broker.connect()}["BTC/USDT.BINANCE"]
    report = await broker.submit("P-01JABCDEF", btc, OrderSpec(side=OrderSide.BUY, quantity=D("0.5")))
    assert report.status is ReportStatus.FILLED and report.venue_order_id == "1001"
    (ex,) = report.executions
    # 0.5 BTC at 97,000.10; Binance takes 0.1% of the BTC received: 0.0005 BTC = 48.50005 USDT
    assert (ex.quantity, ex.price, ex.fee) == (D("0.5"), D("97000.10"), D("48.500050"))
    assert fake.orders["P-01JABCDEF"]["side"] == "BUY"  # our client order id reached the exchange
    balances = await broker.balances()
    assert balances["USDT"].total == D("100000") - D("48500.05") and balances["BTC"].total == D("0.4995")
    assert [(p.instrument_id, p.quantity) for p in await broker.positions()] == [("BTC/USDT.BINANCE", D("0.4995"))]


async def test_binance_refuses_a_client_order_id_only_while_its_order_is_open(exchange) -> None:
    # Binance's newClientOrderId is unique among open orders only: a filled order's id is taken
    # again as a new order. exec-sim therefore asks for an order before sending it again after a
    # crash (test_broker_reconciliation), rather than counting on the exchange to refuse it.
    fake, broker = exchange
    btc = {i.instrument_id: i for i in await broker.connect()}["BTC/USDT.BINANCE"]
    resting = OrderSpec(side=OrderSide.BUY, quantity=D("0.1"), order_type=OrderType.LIMIT, limit_price=D("90000.00"))
    assert (await broker.submit("O-OPEN", btc, resting)).status is ReportStatus.ACCEPTED
    again = await broker.submit("O-OPEN", btc, resting)
    assert again.status is ReportStatus.REJECTED and "Duplicate order" in again.message
    market = OrderSpec(side=OrderSide.BUY, quantity=D("0.1"))
    assert (await broker.submit("O-DONE", btc, market)).status is ReportStatus.FILLED
    assert (await broker.submit("O-DONE", btc, market)).status is ReportStatus.FILLED
    assert [o["clientOrderId"] for o in fake.placed] == ["O-OPEN", "O-DONE", "O-DONE"]


async def test_insufficient_funds_is_a_rejection_with_the_ccxt_error_class(exchange) -> None:
    _fake, broker = exchange
    btc = {i.instrument_id: i for i in await broker.connect()}["BTC/USDT.BINANCE"]
    report = await broker.submit("O-BIG", btc, OrderSpec(side=OrderSide.BUY, quantity=D("5")))
    assert (report.status, report.reason) == (ReportStatus.REJECTED, "InsufficientFunds")


async def test_a_resting_limit_can_be_canceled_and_an_unknown_one_cannot(exchange) -> None:
    fake, broker = exchange
    eth = {i.instrument_id: i for i in await broker.connect()}["ETH/USDT.BINANCE"]
    spec = OrderSpec(side=OrderSide.BUY, quantity=D("1"), order_type=OrderType.LIMIT, limit_price=D("3000.00"))
    placed = await broker.submit("O-LIMIT", eth, spec)
    assert placed.status is ReportStatus.ACCEPTED and placed.executions == ()
    assert (await broker.cancel("O-LIMIT", eth)).status is ReportStatus.CANCELED
    assert fake.orders["O-LIMIT"]["status"] == "CANCELED"
    assert (await broker.cancel("O-NEVER", eth)).reason == "unknown_order"


async def test_a_wrong_secret_is_refused_at_the_wire() -> None:
    fake = FakeBinance()
    async with serve(fake.app()) as url:
        broker = CcxtBroker.create("binance", venue="BINANCE", api_key=fake.api_key, secret="wrong", base_url=url)
        try:
            btc = {i.instrument_id: i for i in await broker.connect()}["BTC/USDT.BINANCE"]
            report = await broker.submit("O-1", btc, OrderSpec(side=OrderSide.BUY, quantity=D("0.1")))
            assert report.status is ReportStatus.REJECTED and "Signature" in report.message
            assert fake.orders == {}
        finally:
            await broker.close()


def test_long_client_order_ids_map_to_a_stable_id_the_exchange_accepts() -> None:
    long_id = "F-01JABCDEFGHJKMNPQRSTVWXYZ0-BTC_USDT"
    assert exchange_client_id(long_id) == exchange_client_id(long_id) and len(exchange_client_id(long_id)) == 36
    assert exchange_client_id("P-01JABCDEF") == "P-01JABCDEF"


async def test_a_resting_limit_filled_in_two_trades_is_reported_cumulatively_with_the_exchanges_trade_ids(
    exchange,
) -> None:
    fake, broker = exchange
    btc = {i.instrument_id: i for i in await broker.connect()}["BTC/USDT.BINANCE"]
    spec = OrderSpec(side=OrderSide.BUY, quantity=D("0.4"), order_type=OrderType.LIMIT, limit_price=D("96000.00"))
    placed = await broker.submit("O-REST", btc, spec)
    assert (await broker.order_status("O-REST", btc)).status is ReportStatus.ACCEPTED
    fake.trade_at("BTCUSDT", "95990.00", volume="0.1")
    partial = await broker.order_status("O-REST", btc)
    assert partial.status is ReportStatus.PARTIALLY_FILLED and partial.venue_order_id == placed.venue_order_id
    assert [(e.quantity, e.price) for e in partial.executions] == [(D("0.1"), D("96000.00"))]
    fake.trade_at("BTCUSDT", "95980.00")
    filled = await broker.order_status("O-REST", btc)
    assert filled.status is ReportStatus.FILLED
    assert [e.quantity for e in filled.executions] == [D("0.1"), D("0.3")]
    assert filled.trade_ids == tuple(str(t["id"]) for t in fake.trades) and len(set(filled.trade_ids)) == 2
    assert filled.trade_ids[0] == partial.trade_ids[0]  # stable: the exchange's ids, not positions
    # a maker buy pays 0.1% of the BTC received, valued in USDT at the fill price
    assert filled.executions[1].fee == D("0.3") * D("0.001") * D("96000.00")


async def test_an_order_the_exchange_never_got_is_not_found_and_a_down_exchange_raises(exchange) -> None:
    fake, broker = exchange
    btc = {i.instrument_id: i for i in await broker.connect()}["BTC/USDT.BINANCE"]
    never = await broker.order_status("O-NOWHERE", btc)
    assert (never.status, never.reason) == (ReportStatus.REJECTED, "unknown_order")
    fake.down = True
    with pytest.raises(VenueUnavailableError):
        await broker.order_status("O-NOWHERE", btc)
