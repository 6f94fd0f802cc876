"""The ProjectX adapter against the Gateway API and its SignalR user hub served on loopback:
real httpx and pysignalr in the path, the broker faked at the wire."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from tests.fakes.projectx import FakeProjectX
from tests.integration.test_tradovate_adapter import Told
from tests.wire import serve

from at_core.models.enums import OrderSide, OrderType
from at_core.models.instruments import FutureContract
from at_core.models.orders import OrderSpec
from at_exec_sim.adapters.projectx.broker import LiveAccountError, ProjectXBroker
from at_exec_sim.adapters.projectx.client import ProjectXAuthError, ProjectXClient
from at_exec_sim.adapters.projectx.realtime import UserHub
from at_exec_sim.adapters.ratelimit import RequestBudget
from at_exec_sim.domain.ports import UNKNOWN_ORDER, BrokerAdapter, BrokerPosition, ReportStatus
from at_exec_sim.errors import VenueUnavailableError

pytestmark = pytest.mark.integration
D = Decimal


class Clock:
    """A monotonic clock the test moves (token age)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def make(fake: FakeProjectX, url: str, clock: Clock | None = None, hub: bool = True, live: bool = False):
    client = ProjectXClient(
        httpx.AsyncClient(base_url=url, timeout=5),
        user_name=fake.user_name,
        api_key=fake.api_key,
        budget=RequestBudget(180, 60.0),
        monotonic=clock or Clock(),
    )
    user_hub = UserHub(f"{url}/hubs/user", lambda: client.token, backoff_s=0.05) if hub else None
    return ProjectXBroker(client, str(fake.account["id"]), live=live, hub=user_hub)


@pytest.fixture
async def px() -> AsyncIterator[tuple[FakeProjectX, ProjectXBroker, dict[str, FutureContract], Told]]:
    fake = FakeProjectX()
    async with serve(fake.app()) as url:
        broker = make(fake, url)
        told = Told()
        broker.set_listener(told)
        try:
            instruments = {i.symbol: i for i in await broker.connect()}
            yield fake, broker, instruments, told  # type: ignore[misc]
        finally:
            await broker.close()


def buy(qty: str = "2", **kw: object) -> OrderSpec:
    return OrderSpec(side=OrderSide.BUY, quantity=D(qty), **kw)  # type: ignore[arg-type]


async def test_contracts_come_with_their_tick_size_and_tick_value(px) -> None:
    _fake, broker, inst, _told = px
    assert isinstance(broker, BrokerAdapter)
    mes = inst["MESZ6"]
    assert (mes.instrument_id, mes.price_increment, mes.tick_value, mes.multiplier) == (
        "MESZ6.TOPSTEPX",
        D("0.25"),
        D("1.25"),
        D(5),
    )


async def test_a_market_order_carries_our_key_in_custom_tag_and_fills_with_its_fees(px) -> None:
    fake, broker, inst, _told = px
    report = await broker.submit("P-01JPX1", inst["MESZ6"], buy())
    assert report.status is ReportStatus.FILLED and report.venue_order_id
    assert [(e.quantity, e.price, e.fee) for e in report.executions] == [(D(2), D("6000.25"), D("0.74"))]
    assert fake.by_tag("P-01JPX1")["size"] == 2 and len(report.trade_ids) == 1
    assert await broker.positions() == [BrokerPosition("MESZ6.TOPSTEPX", D(2), D("6000.25"))]


async def test_a_partial_fill_is_partially_filled_and_the_rest_is_found_later(px) -> None:
    fake, broker, inst, told = px
    fake.fill_parts = [1]
    await fake.hub.until(lambda: fake.hub.subscribed("SubscribeTrades") == 1)
    report = await broker.submit("P-01JPX2", inst["MESZ6"], buy("3"))
    assert report.status is ReportStatus.PARTIALLY_FILLED and report.filled == D(1)
    await told.until("GatewayUserOrder")
    told.reasons.clear()
    await fake.fill(int(report.venue_order_id), 2, D("6001.00"))
    await told.until("GatewayUserOrder")  # the push says the order changed: it is asked again
    later = await broker.order_status("P-01JPX2", inst["MESZ6"])
    assert later.status is ReportStatus.FILLED
    assert [(e.quantity, e.price) for e in later.executions] == [(D(1), D("6000.25")), (D(2), D("6001.00"))]


async def test_a_rejection_carries_the_gateways_code_and_message(px) -> None:
    fake, broker, inst, _told = px
    fake.reject_next = "Order rejected: outside trading hours"
    report = await broker.submit("P-01JPX3", inst["MESZ6"], buy())
    assert report.status is ReportStatus.REJECTED
    assert (report.reason, report.message) == ("projectx_error_2", "Order rejected: outside trading hours")


async def test_a_lost_answer_is_found_by_custom_tag_and_a_resubmission_is_not_placed_twice(px) -> None:
    fake, broker, inst, _told = px
    fake.lose_next_places = 1
    with pytest.raises(VenueUnavailableError):
        await broker.submit("P-01JPX4", inst["MESZ6"], buy())
    found = await broker.order_status("P-01JPX4", inst["MESZ6"])
    assert found.status is ReportStatus.FILLED and found.filled == D(2)
    again = await broker.submit("P-01JPX4", inst["MESZ6"], buy())  # e.g. exec-sim restarted mid-order
    assert again.status is ReportStatus.FILLED and again.venue_order_id == found.venue_order_id
    assert len(fake.orders) == 1 and fake.places == 2  # the gateway refused the duplicate customTag
    assert fake.positions["CON.F.US.MES.Z26"][0] == 2


async def test_an_order_the_gateway_never_had_is_unknown_not_guessed(px) -> None:
    _fake, broker, inst, _told = px
    report = await broker.order_status("P-NEVER", inst["MESZ6"])
    assert (report.status, report.reason) == (ReportStatus.REJECTED, UNKNOWN_ORDER)


async def test_a_resting_limit_is_canceled_by_its_tag(px) -> None:
    fake, broker, inst, _told = px
    spec = buy("1", order_type=OrderType.LIMIT, limit_price=D("5900.00"))
    assert (await broker.submit("P-01JPX5", inst["MESZ6"], spec)).status is ReportStatus.ACCEPTED
    assert fake.by_tag("P-01JPX5")["limitPrice"] == 5900.0
    assert (await broker.cancel("P-01JPX5", inst["MESZ6"])).status is ReportStatus.CANCELED
    assert (await broker.order_status("P-01JPX5", inst["MESZ6"])).status is ReportStatus.CANCELED
    assert (await broker.cancel("P-NEVER", inst["MESZ6"])).reason == UNKNOWN_ORDER


async def test_a_revoked_token_logs_in_again_and_the_order_is_placed_once() -> None:
    fake = FakeProjectX()
    async with serve(fake.app()) as url:
        broker = make(fake, url, hub=False)
        inst = {i.symbol: i for i in await broker.connect()}
        fake.expire_tokens()
        report = await broker.submit("P-01JPX6", inst["MESZ6"], buy())
        assert report.status is ReportStatus.FILLED
        assert (fake.logins, fake.places) == (2, 1)  # the 401 was refused before anything was placed
        await broker.close()


async def test_a_token_near_its_24_hours_is_renewed_with_validate_before_it_expires() -> None:
    fake, clock = FakeProjectX(), Clock()
    async with serve(fake.app()) as url:
        broker = make(fake, url, clock=clock, hub=False)
        await broker.connect()
        clock.t += 23.5 * 3600  # within the hour before expiry
        await broker.balances()
        assert (fake.logins, fake.validations, broker.client.renewals) == (1, 1, 1)
        await broker.close()


async def test_a_429_pauses_the_budget_and_the_call_goes_through_after_it() -> None:
    fake = FakeProjectX()
    async with serve(fake.app()) as url:
        broker = make(fake, url, hub=False)
        inst = {i.symbol: i for i in await broker.connect()}
        fake.throttle_next, fake.retry_after_s = 1, 0.05
        report = await broker.submit("P-01JPX7", inst["MESZ6"], buy())
        assert report.status is ReportStatus.FILLED and broker.client.rate_limited == 1
        assert fake.places == 1 and fake.limited == 1 and broker.client.budget.waited_s > 0
        await broker.close()


async def test_a_long_429_is_an_unknown_outcome_not_a_retry_storm() -> None:
    fake = FakeProjectX()
    async with serve(fake.app()) as url:
        broker = make(fake, url, hub=False)
        await broker.connect()
        fake.throttle_next, fake.retry_after_s = 1, 600
        with pytest.raises(VenueUnavailableError, match="429"):
            await broker.balances()
        assert fake.limited == 1 and broker.client.budget.paused_for > 500
        await broker.close()


async def test_wrong_credentials_and_a_funded_account_without_live_routing_are_refused() -> None:
    fake = FakeProjectX()
    async with serve(fake.app()) as url:
        wrong = make(fake, url, hub=False)
        wrong.client._api_key = "nope"
        with pytest.raises(ProjectXAuthError):
            await wrong.connect()
        await wrong.close()
        fake.account["simulated"] = False
        funded = make(fake, url, hub=False)
        with pytest.raises(LiveAccountError):
            await funded.connect()
        await funded.close()
        live = make(fake, url, hub=False, live=True)
        assert await live.connect()
        await live.close()


async def test_the_hub_subscribes_pushes_wake_exec_sim_and_a_dropped_socket_resubscribes(px) -> None:
    fake, broker, inst, told = px
    await fake.hub.until(lambda: fake.hub.subscribed("SubscribeTrades") == 1)
    assert {m for m, _ in fake.hub.invocations} == {
        "SubscribeAccounts",
        "SubscribeOrders",
        "SubscribePositions",
        "SubscribeTrades",
    }
    assert ("SubscribeOrders", [7001]) in fake.hub.invocations
    await broker.submit("P-01JPX8", inst["MESZ6"], buy())
    await told.until("GatewayUserOrder")
    await fake.hub.drop()
    await fake.hub.until(lambda: fake.hub.connections == 2 and fake.hub.subscribed("SubscribeTrades") == 1)
    await told.until("reconnected")  # reconcile by REST what was missed


async def test_a_hub_that_refuses_the_token_is_retried_with_the_renewed_one(px) -> None:
    fake, broker, _inst, _told = px
    await fake.hub.until(lambda: fake.hub.subscribed("SubscribeTrades") == 1)
    fake.expire_tokens()
    await fake.hub.drop()
    await fake.hub.until(lambda: fake.hub.refused >= 1)
    await broker.balances()  # a 401: a new login, a new token
    await fake.hub.until(lambda: fake.hub.subscribed("SubscribeTrades") == 1, timeout_s=15)
    assert broker.hub.connects >= 2


async def test_while_the_hub_is_up_a_resting_order_nothing_was_pushed_for_is_not_asked_again(px) -> None:
    fake, broker, inst, told = px
    await fake.hub.until(lambda: fake.hub.subscribed("SubscribeTrades") == 1)
    spec = buy("1", order_type=OrderType.LIMIT, limit_price=D("5900.00"))
    report = await broker.submit("P-01JPX9", inst["MESZ6"], spec)
    await told.until("GatewayUserOrder")  # the placement's push came (and forgot what was known)
    await broker.order_status("P-01JPX9", inst["MESZ6"])
    calls = len(fake.calls)
    assert (await broker.order_status("P-01JPX9", inst["MESZ6"])).status is ReportStatus.ACCEPTED
    assert len(fake.calls) == calls  # the budget is not spent on an order nothing changed for
    told.reasons.clear()
    await fake.fill(int(report.venue_order_id), 1, D("5900.00"))  # the broker pushes the change
    await told.until("GatewayUserOrder")
    assert (await broker.order_status("P-01JPX9", inst["MESZ6"])).status is ReportStatus.FILLED
