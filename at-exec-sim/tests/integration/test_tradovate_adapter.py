"""The Tradovate adapter against Tradovate's REST API and WebSocket protocol served on loopback:
real httpx and websockets in the path, the broker faked at the wire."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from tests.fakes.tradovate import FakeTradovate
from tests.wire import serve

from at_core.models.enums import OrderSide, OrderType
from at_core.models.orders import OrderSpec
from at_exec_sim.adapters.ratelimit import RequestBudget
from at_exec_sim.adapters.tradovate.broker import TradovateBroker
from at_exec_sim.adapters.tradovate.client import TradovateAuthError, TradovateClient
from at_exec_sim.adapters.tradovate.socket import TradovateSocket, parse_frame, request_frame
from at_exec_sim.domain.ports import UNKNOWN_ORDER, BrokerAdapter, BrokerPosition, ReportStatus
from at_exec_sim.errors import VenueUnavailableError

pytestmark = pytest.mark.integration
D = Decimal


def make(fake: FakeTradovate, url: str, socket: bool = True, credentials: dict | None = None) -> TradovateBroker:
    client = TradovateClient(
        httpx.AsyncClient(base_url=f"{url}/v1", timeout=5),
        credentials=credentials or dict(fake.credentials),
        budget=RequestBudget(80, 60.0),
    )
    ws_url = url.replace("http://", "ws://") + "/v1/websocket"
    sock = TradovateSocket(ws_url, lambda: client.token, lambda: client.user_id, heartbeat_s=0.05, backoff_s=0.05)
    return TradovateBroker(client, fake.account["name"], ("MESZ6",), socket=sock if socket else None)


class Told:
    """What the adapter told exec-sim, awaited with a deadline."""

    def __init__(self) -> None:
        self.reasons: list[str] = []
        self._changed = asyncio.Event()

    def __call__(self, reason: str) -> None:
        self.reasons.append(reason)
        self._changed.set()

    async def until(self, reason: str) -> None:
        async def wait() -> None:
            while reason not in self.reasons:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), 10)


@pytest.fixture
async def tv() -> AsyncIterator[tuple[FakeTradovate, TradovateBroker, dict, Told]]:
    fake = FakeTradovate()
    async with serve(fake.app()) as url:
        broker = make(fake, url)
        fake.base_url = url  # type: ignore[attr-defined]
        told = Told()
        broker.set_listener(told)
        try:
            yield fake, broker, {i.symbol: i for i in await broker.connect()}, told
        finally:
            await broker.close()


def buy(qty: str = "2", **kw: object) -> OrderSpec:
    return OrderSpec(side=OrderSide.BUY, quantity=D(qty), **kw)  # type: ignore[arg-type]


def test_requests_and_frames_follow_tradovates_framing() -> None:
    assert request_frame("authorize", 0, "tok") == "authorize\n0\n\ntok"
    assert request_frame("user/syncrequest", 1, {"users": [7]}) == 'user/syncrequest\n1\n\n{"users": [7]}'
    assert parse_frame('a[{"i":0,"s":200}]') == ("a", [{"i": 0, "s": 200}])
    assert parse_frame("h") == ("h", []) and parse_frame("o") == ("o", [])


async def test_the_contract_comes_with_tick_size_and_point_value(tv) -> None:
    _fake, broker, inst, _told = tv
    assert isinstance(broker, BrokerAdapter)
    mes = inst["MESZ6"]
    assert (mes.instrument_id, mes.price_increment, mes.multiplier, mes.tick_value) == (
        "MESZ6.TRADOVATE",
        D("0.25"),
        D(5),
        D("1.25"),
    )


async def test_a_market_order_is_automated_carries_our_key_and_fills(tv) -> None:
    fake, broker, inst, _told = tv
    report = await broker.submit("P-01JTV1", inst["MESZ6"], buy())
    assert report.status is ReportStatus.FILLED and report.filled == D(2)
    placed = fake.by_tag("P-01JTV1")
    assert placed["orderQty"] == 2 and placed["action"] == "Buy"
    assert await broker.positions() == [BrokerPosition("MESZ6.TRADOVATE", D(2), D("6000.25"))]


async def test_a_partial_fill_then_the_rest(tv) -> None:
    fake, broker, inst, told = tv
    fake.fill_parts = [1]
    await fake.until(lambda: fake.synced == 1)
    report = await broker.submit("P-01JTV2", inst["MESZ6"], buy("3"))
    assert report.status is ReportStatus.PARTIALLY_FILLED and report.filled == D(1)
    await told.until("props")
    told.reasons.clear()
    await fake.fill(int(report.venue_order_id), 2, D("6002.00"))
    await told.until("props")  # the push says the order changed: it is asked again
    later = await broker.order_status("P-01JTV2", inst["MESZ6"])
    assert later.status is ReportStatus.FILLED and [e.quantity for e in later.executions] == [D(1), D(2)]


async def test_a_rejection_carries_tradovates_reason_and_text(tv) -> None:
    fake, broker, inst, _told = tv
    fake.reject_next = "Exceeds max position"
    report = await broker.submit("P-01JTV3", inst["MESZ6"], buy())
    assert (report.status, report.reason, report.message) == (
        ReportStatus.REJECTED,
        "RiskCheck",
        "Exceeds max position",
    )


async def test_a_lost_answer_is_found_by_cl_ord_id_and_never_placed_twice(tv) -> None:
    fake, broker, inst, _told = tv
    fake.lose_next_places = 1
    with pytest.raises(VenueUnavailableError):
        await broker.submit("P-01JTV4", inst["MESZ6"], buy())
    fresh = make(fake, fake.base_url, socket=False)  # a restarted exec-sim
    inst2 = {i.symbol: i for i in await fresh.connect()}
    found = await fresh.order_status("P-01JTV4", inst2["MESZ6"])
    assert found.status is ReportStatus.FILLED
    again = await fresh.submit("P-01JTV4", inst2["MESZ6"], buy())
    assert again.venue_order_id == found.venue_order_id and fake.places == 1
    assert (await fresh.order_status("P-NEVER", inst2["MESZ6"])).reason == UNKNOWN_ORDER
    await fresh.close()


async def test_a_resting_limit_is_canceled(tv) -> None:
    _fake, broker, inst, _told = tv
    spec = buy("1", order_type=OrderType.LIMIT, limit_price=D("5900.00"))
    assert (await broker.submit("P-01JTV5", inst["MESZ6"], spec)).status is ReportStatus.ACCEPTED
    assert (await broker.cancel("P-01JTV5", inst["MESZ6"])).status is ReportStatus.CANCELED
    assert (await broker.order_status("P-01JTV5", inst["MESZ6"])).status is ReportStatus.CANCELED


async def test_a_penalty_ticket_is_waited_out_and_resent_with_the_ticket_once(tv) -> None:
    fake, broker, inst, _told = tv
    fake.penalize_next = 1
    report = await broker.submit("P-01JTV6", inst["MESZ6"], buy())
    assert report.status is ReportStatus.FILLED
    assert (fake.penalties_sent, broker.client.penalties, fake.tickets_seen, fake.places) == (1, 1, 1, 1)
    assert broker.client.budget.waited_s > 0


async def test_a_429_is_a_long_wait_and_an_unknown_outcome(tv) -> None:
    fake, broker, _inst, _told = tv
    fake.throttle_next = 1
    with pytest.raises(VenueUnavailableError, match="429"):
        await broker.balances()
    assert broker.client.budget.paused_for > 60


async def test_an_expired_token_logs_in_again_and_a_near_expiry_one_is_renewed() -> None:
    fake = FakeTradovate(token_minutes=10)  # inside the 15 min renewal margin: renewed before use
    async with serve(fake.app()) as url:
        broker = make(fake, url, socket=False)
        inst = {i.symbol: i for i in await broker.connect()}
        await broker.balances()
        assert fake.renewals >= 1
        fake.expire_tokens()
        assert (await broker.submit("P-01JTV7", inst["MESZ6"], buy())).status is ReportStatus.FILLED
        assert fake.logins >= 2 and fake.places == 1
        await broker.close()


async def test_wrong_credentials_are_refused() -> None:
    fake = FakeTradovate()
    async with serve(fake.app()) as url:
        broker = make(fake, url, socket=False, credentials=dict(fake.credentials) | {"password": "nope"})
        with pytest.raises(TradovateAuthError):
            await broker.connect()
        await broker.close()


async def test_the_socket_authorizes_first_syncs_beats_and_resyncs_after_a_drop(tv) -> None:
    fake, broker, inst, told = tv
    await fake.until(lambda: fake.synced == 1 and fake.heartbeats >= 2)
    await broker.submit("P-01JTV8", inst["MESZ6"], buy())
    await told.until("props")
    await fake.drop()
    await fake.until(lambda: fake.synced == 2)
    await told.until("reconnected")  # reconcile by REST what happened meanwhile
    assert fake.authorized == 2 and broker.socket.connects == 2


async def test_a_fill_carries_the_fees_tradovate_charged_for_it_read_once_per_fill(tv) -> None:
    fake, broker, inst, told = tv
    fake.fill_parts = [1]
    await fake.until(lambda: fake.synced >= 1)
    report = await broker.submit("P-01JTVF", inst["MESZ6"], buy("3"))
    assert [e.fee for e in report.executions] == [D("0.50")]  # commission + clearing + exchange + NFA, 1 contract
    fake.fee_parts["commission"] = D("0.59")  # a later fill at another rate: its own FillFee
    told.reasons.clear()
    await fake.fill(int(report.venue_order_id), 2)
    await told.until("props")  # the push: asked again
    later = await broker.order_status("P-01JTVF", inst["MESZ6"])
    assert [e.fee for e in later.executions] == [D("0.50"), D("2.00")]  # the first one's not changed
    assert fake.cash == D(25000) - D("2.50")  # what the balance paid


async def test_a_fill_whose_fees_tradovate_has_not_reported_is_booked_without_a_guess(tv) -> None:
    fake, broker, inst, _told = tv
    fake.fees_reported = False
    report = await broker.submit("P-01JTVG", inst["MESZ6"], buy("1"))
    assert [e.fee for e in report.executions] == [D(0)]  # the balance check shows what was charged


async def test_the_cash_balance_snapshot_is_read_and_an_error_text_is_no_balance(tv) -> None:
    fake, broker, _inst, _told = tv
    balance = (await broker.balances())["USD"]
    assert (balance.total, balance.used) == (D(25000), D(0))
    fake.snapshot_error = "Access is denied"
    with pytest.raises(VenueUnavailableError, match="Access is denied"):
        await broker.balances()  # never a zero balance that a check would read as money gone
