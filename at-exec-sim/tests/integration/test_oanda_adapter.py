"""The OANDA adapter against OANDA's v20 REST API served on loopback: real httpx, fake broker at the wire."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from tests.fakes.oanda import FakeOanda
from tests.wire import serve

from at_core.catalog import InstrumentCatalog
from at_core.models.enums import OrderSide, OrderType, TimeInForce
from at_core.models.instruments import FxPair
from at_core.models.orders import OrderSpec
from at_exec_sim.adapters.oanda_broker import OandaBroker, order_body
from at_exec_sim.domain.ports import BrokerAdapter, BrokerPosition, ReportStatus
from at_exec_sim.errors import VenueUnavailableError

pytestmark = pytest.mark.integration
D = Decimal


@pytest.fixture
async def broker() -> AsyncIterator[tuple[FakeOanda, OandaBroker, dict[str, FxPair]]]:
    fake = FakeOanda()
    async with serve(fake.app()) as url:
        adapter = OandaBroker.create(account_id=fake.account_id, token=fake.token, base_url=url)
        try:
            pairs = {i.symbol: i for i in await adapter.connect()}
            yield fake, adapter, pairs
        finally:
            await adapter.close()


async def test_pairs_and_their_precision_come_from_the_brokers_instrument_list(broker) -> None:
    _fake, adapter, pairs = broker
    assert isinstance(adapter, BrokerAdapter)
    assert set(pairs) == {"EUR/USD", "USD/JPY"}  # the metal is not an FX pair
    eur, jpy = pairs["EUR/USD"], pairs["USD/JPY"]
    assert (eur.pip_size, eur.price_increment, eur.size_increment, eur.max_quantity) == (
        D("0.0001"),
        D("0.00001"),
        D(1),
        D(100_000_000),
    )
    assert (jpy.pip_size, jpy.price_increment) == (D("0.01"), D("0.001"))
    # the same grid as at-core's own catalog uses for the pair
    ref = InstrumentCatalog().resolve("OANDA:EURUSD")
    assert (ref.price_increment, ref.size_increment) == (eur.price_increment, eur.size_increment)


async def test_a_market_buy_fills_at_the_ask_with_commission_in_the_quote_currency(broker) -> None:
    fake, adapter, pairs = broker
    report = await adapter.submit("P-01JEURBUY", pairs["EUR/USD"], OrderSpec(side=OrderSide.BUY, quantity=D(100_000)))
    assert report.status is ReportStatus.FILLED and report.venue_order_id
    (fill,) = report.executions
    assert (fill.quantity, fill.price, fill.fee) == (D(100_000), D("1.08022"), D("5.0000"))  # 100k x 50 / 1M
    assert fake.orders["P-01JEURBUY"]["units"] == "100000"
    assert fake.orders["P-01JEURBUY"]["timeInForce"] == "FOK"  # v20 market orders take FOK or IOC only


async def test_a_sell_of_a_jpy_pair_is_negative_units_and_its_usd_commission_is_valued_in_yen(broker) -> None:
    _fake, adapter, pairs = broker
    report = await adapter.submit("P-01JJPYSELL", pairs["USD/JPY"], OrderSpec(side=OrderSide.SELL, quantity=D(20_000)))
    (fill,) = report.executions
    assert (fill.quantity, fill.price) == (D(20_000), D("150.120"))
    assert fill.fee == D("1.0000") * D("150.120")  # 1 USD commission at the fill's USD/JPY rate
    assert await adapter.positions() == [BrokerPosition("USD/JPY.OANDA", D(-20_000), D("150.12000"))]


async def test_a_resubmitted_client_order_id_is_refused_by_the_broker_not_doubled(broker) -> None:
    fake, adapter, pairs = broker
    spec = OrderSpec(side=OrderSide.BUY, quantity=D(1_000))
    first = await adapter.submit("P-01JONCE", pairs["EUR/USD"], spec)
    again = await adapter.submit("P-01JONCE", pairs["EUR/USD"], spec)
    assert first.status is ReportStatus.FILLED
    assert again.status is ReportStatus.REJECTED and again.reason == "CLIENT_ORDER_ID_ALREADY_EXISTS"
    assert fake.positions["EUR_USD"] == [(D(1_000), D("1.08022"))]


async def test_a_market_order_the_account_cannot_margin_is_canceled_with_the_brokers_reason(broker) -> None:
    fake, adapter, pairs = broker
    report = await adapter.submit(
        "P-01JTOOBIG", pairs["EUR/USD"], OrderSpec(side=OrderSide.BUY, quantity=D(50_000_000))
    )
    assert report.status is ReportStatus.CANCELED and report.reason == "INSUFFICIENT_MARGIN"
    assert report.executions == () and fake.positions == {}


async def test_a_resting_limit_can_be_canceled_by_client_id_and_an_unknown_one_cannot(broker) -> None:
    fake, adapter, pairs = broker
    eur = pairs["EUR/USD"]
    spec = OrderSpec(side=OrderSide.BUY, quantity=D(10_000), order_type=OrderType.LIMIT, limit_price=D("1.07500"))
    resting = await adapter.submit("P-01JLIMIT", eur, spec)
    assert resting.status is ReportStatus.ACCEPTED and resting.executions == ()
    canceled = await adapter.cancel("P-01JLIMIT", eur)
    assert canceled.status is ReportStatus.CANCELED and canceled.venue_order_id == resting.venue_order_id
    assert fake.orders["P-01JLIMIT"]["state"] == "CANCELLED"
    unknown = await adapter.cancel("P-01JNEVER", eur)
    assert unknown.status is ReportStatus.REJECTED and unknown.reason == "unknown_order"


async def test_balances_are_the_accounts_margin_view(broker) -> None:
    _fake, adapter, pairs = broker
    await adapter.submit("P-01JBAL", pairs["EUR/USD"], OrderSpec(side=OrderSide.BUY, quantity=D(100_000)))
    usd = (await adapter.balances())["USD"]
    assert usd.total == D("99995.0000")
    assert usd.used == D(100_000) * D("1.08022") * D("0.0333")
    assert usd.free == usd.total - usd.used


async def test_a_wrong_token_is_refused_at_the_wire() -> None:
    fake = FakeOanda()
    async with serve(fake.app()) as url:
        adapter = OandaBroker.create(account_id=fake.account_id, token="wrong", base_url=url)
        try:
            with pytest.raises(VenueUnavailableError, match="401"):
                await adapter.connect()
        finally:
            await adapter.close()


async def test_an_unreachable_broker_is_an_ambiguous_outcome_not_a_guess() -> None:
    from at_core.testing import free_port

    adapter = OandaBroker.create(account_id="101-x", token="t", base_url=f"http://127.0.0.1:{free_port()}")
    eur = InstrumentCatalog().resolve("OANDA:EURUSD")
    try:
        with pytest.raises(VenueUnavailableError):
            await adapter.submit("P-01JDOWN", eur, OrderSpec(side=OrderSide.BUY, quantity=D(1_000)))
    finally:
        await adapter.close()


def test_order_bodies_carry_signed_units_our_client_id_and_v20_time_in_force() -> None:
    eur = InstrumentCatalog().resolve("OANDA:EURUSD")
    stop_limit = OrderSpec(
        side=OrderSide.SELL,
        quantity=D(5_000),
        order_type=OrderType.STOP_LIMIT,
        stop_price=D("1.07000"),
        limit_price=D("1.06950"),
        time_in_force=TimeInForce.DAY,
        reduce_only=True,
    )
    assert order_body("P-1", eur, stop_limit) == {
        "order": {
            "type": "STOP",
            "instrument": "EUR_USD",
            "units": "-5000",
            "price": "1.07000",
            "priceBound": "1.06950",
            "timeInForce": "GFD",
            "positionFill": "REDUCE_ONLY",
            "clientExtensions": {"id": "P-1"},
        }
    }
    gtd = OrderSpec(
        side=OrderSide.BUY,
        quantity=D(1),
        order_type=OrderType.LIMIT,
        limit_price=D("1.05"),
        time_in_force=TimeInForce.GTD,
        expire_time_ns=1_795_000_000_500_000_000,
    )
    assert order_body("P-2", eur, gtd)["order"]["gtdTime"] == "1795000000.500000000"


def test_a_non_fx_instrument_is_refused_before_anything_is_sent() -> None:
    es = InstrumentCatalog().resolve("ES1!")
    with pytest.raises(ValueError, match="not an FX pair"):
        order_body("P-3", es, OrderSpec(side=OrderSide.BUY, quantity=D(1)))


async def test_a_resting_limit_is_asked_by_client_id_and_its_later_fill_comes_from_the_fill_transaction(
    broker,
) -> None:
    fake, adapter, pairs = broker
    eur = pairs["EUR/USD"]
    spec = OrderSpec(side=OrderSide.BUY, quantity=D(10_000), order_type=OrderType.LIMIT, limit_price=D("1.07500"))
    placed = await adapter.submit("P-01JLATER", eur, spec)
    resting = await adapter.order_status("P-01JLATER", eur)
    assert (resting.status, resting.venue_order_id, resting.executions) == (
        ReportStatus.ACCEPTED,
        placed.venue_order_id,
        (),
    )
    fake.set_quote("EUR_USD", "1.07480", "1.07492")  # the ask crosses the limit
    filled = await adapter.order_status("P-01JLATER", eur)
    (ex,) = filled.executions
    assert filled.status is ReportStatus.FILLED
    assert (ex.quantity, ex.price, ex.fee) == (D(10_000), D("1.07492"), D("0.5000"))
    assert filled.trade_ids == (fake.orders["P-01JLATER"]["fillingTransactionID"],)
    assert (await adapter.order_status("P-01JLATER", eur)) == filled  # asked again: the same cumulative state


async def test_the_status_of_a_canceled_order_carries_the_cancel_reason_and_an_unknown_one_is_not_found(
    broker,
) -> None:
    _fake, adapter, pairs = broker
    eur = pairs["EUR/USD"]
    spec = OrderSpec(side=OrderSide.SELL, quantity=D(1_000), order_type=OrderType.LIMIT, limit_price=D("1.09000"))
    await adapter.submit("P-01JGONE", eur, spec)
    await adapter.cancel("P-01JGONE", eur)
    canceled = await adapter.order_status("P-01JGONE", eur)
    assert (canceled.status, canceled.reason, canceled.executions) == (ReportStatus.CANCELED, "CLIENT_REQUEST", ())
    never = await adapter.order_status("P-01JNOWHERE", eur)
    assert (never.status, never.reason) == (ReportStatus.REJECTED, "unknown_order")


async def test_asking_a_broker_that_is_down_raises_instead_of_guessing(broker) -> None:
    fake, adapter, pairs = broker
    fake.down = True
    with pytest.raises(VenueUnavailableError, match="503"):
        await adapter.order_status("P-01JANY", pairs["EUR/USD"])
