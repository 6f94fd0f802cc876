"""Orders for broker accounts reach the broker: exec-sim over a real nats-server, its adapters over
real HTTP clients (httpx for OANDA v20, ccxt for Binance) against the brokers' wire APIs on loopback."""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
import uvicorn
from tests.fakes.binance import FakeBinance
from tests.fakes.oanda import FakeOanda
from tests.helpers import T0, factory, proposal, quote
from tests.wire import serve

from at_core import subjects
from at_core.clock import Clock, ManualClock
from at_core.events import Event, EventFactory
from at_core.metrics import MetricCatalog
from at_core.models.enums import OrderSide, OrderType
from at_core.runtime.bus import EventBus
from at_core.serialization import decode_event, encode_event
from at_core.service_kit import Scope, dev_headers
from at_core.testing import NatsServer, free_port
from at_exec_sim.bootstrap import ExecSim
from at_exec_sim.config import ExecSimSettings
from at_exec_sim.main import create_app

pytestmark = pytest.mark.integration
D = Decimal
DEADLINE_S = 15

ACCOUNTS = """
accounts:
  - {account_id: oanda-1, profile: retail, venue: OANDA}
  - {account_id: binance-1, profile: crypto, venue: BINANCE}
  - {account_id: paper-1, profile: retail}
"""


class LoseAnswers:
    """In front of a fake broker: the next ``lose`` POSTs reach the broker but their answers are lost (502)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lose = 0

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if not (self.lose and scope["type"] == "http" and scope["method"] == "POST"):
            await self.app(scope, receive, send)
            return
        self.lose -= 1

        async def swallow(message: dict) -> None:
            return None

        await self.app(scope, receive, swallow)
        await send({"type": "http.response.start", "status": 502, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"upstream timed out"})


class Service:
    """exec-sim under uvicorn, as in production, for the duration of an ``async with``."""

    def __init__(self, settings: ExecSimSettings, clock: Clock | None = None) -> None:
        self.port = free_port()
        self.app = app = create_app(settings, clock)
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.client = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.port}", timeout=10, headers=dev_headers(Scope.OPERATOR)
        )

    async def __aenter__(self) -> Service:
        self.task = asyncio.create_task(self.server.serve())
        for _ in range(400):  # readiness, polled with a bound (not a message)
            try:
                if (await self.client.get("/readyz")).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
        raise RuntimeError("exec-sim not ready")

    async def __aexit__(self, *_: object) -> None:
        self.server.should_exit = True
        await self.task
        await self.client.aclose()

    @property
    def exec_sim(self) -> ExecSim:
        """The running service (to drive a reconciliation round directly)."""
        return self.app.state.service

    async def orders(self, account_id: str) -> dict[str, dict]:
        rows = (await self.client.get("/orders", params={"account_id": account_id})).json()
        return {r["client_order_id"]: r for r in rows}


class Watch:
    """Every event on the bus with one correlation id, awaited with a deadline."""

    def __init__(self, correlation_id: str) -> None:
        self.correlation_id = correlation_id
        self.events: list[Event] = []
        self._changed = asyncio.Event()

    async def start(self, url: str) -> Watch:
        self.nc = await nats.connect(url)

        async def on(msg: Any) -> None:
            event = decode_event(msg.data)
            if event.correlation_id == self.correlation_id:
                self.events.append(event)
                self._changed.set()

        await self.nc.subscribe(subjects.ALL, cb=on)
        await self.nc.flush()
        return self

    async def until(self, done: Callable[[list[Event]], bool]) -> list[Event]:
        async def wait() -> None:
            while not done(self.events):
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), DEADLINE_S)
        return self.events

    def types(self) -> list[str]:
        """What exec-sim published (the input itself left out)."""
        return [e.event_type for e in self.events if e.event_type != "trade_proposal"]

    def first(self, event_type: str) -> Any:
        return next(e for e in self.events if e.event_type == event_type)

    async def close(self) -> None:
        await self.nc.close()


def has(event_type: str) -> Callable[[list[Event]], bool]:
    return lambda events: any(e.event_type == event_type for e in events)


@dataclass
class Stack:
    nats: NatsServer
    bus: EventBus
    f: EventFactory
    oanda: FakeOanda
    oanda_wire: LoseAnswers
    binance: FakeBinance
    binance_server: AsyncExitStack
    settings: ExecSimSettings

    async def send(self, p: Event) -> Watch:
        watch = await Watch(p.correlation_id).start(self.nats.url)
        await self.bus.publish(p)
        return watch


@pytest.fixture
async def stack(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Stack]:
    async with broker_stack(nats_server, tmp_path) as built:
        yield built


@asynccontextmanager
async def broker_stack(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Stack]:
    """NATS with prices, OANDA and Binance faked on loopback, settings for exec-sim (not polling)."""
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(ACCOUNTS)
    oanda, binance = FakeOanda(), FakeBinance()
    oanda_wire = LoseAnswers(oanda.app())
    async with AsyncExitStack() as stack:
        oanda_url = await stack.enter_async_context(serve(oanda_wire))
        binance_server = await stack.enter_async_context(AsyncExitStack())
        binance_url = await binance_server.enter_async_context(serve(binance.app()))
        bus = await EventBus.connect(nats_server.url, service="test", metrics=MetricCatalog("test").build())
        stack.push_async_callback(bus.close)
        await bus.ensure_streams()
        f = factory()
        # Prices before the service starts: it primes them from AT_MARKET_DATA, so no race between consumers.
        for inst, bid, ask in (
            ("EUR/USD.OANDA", "1.08010", "1.08022"),
            ("GBP/USD.OANDA", "1.26000", "1.26012"),  # a pair OANDA does not list here
            ("BTC/USDT.BINANCE", "97000.00", "97000.20"),
        ):
            await bus.publish(quote(f, inst, bid, ask))
        settings = ExecSimSettings(
            nats_url=nats_server.url,
            accounts_file=str(accounts),
            oanda_account_id=oanda.account_id,
            oanda_token=oanda.token,
            oanda_base_url=oanda_url,
            ccxt_exchange="binance",
            ccxt_api_key=binance.api_key,
            ccxt_secret=binance.secret,
            ccxt_base_url=binance_url,
            timer_interval_s=0,
            broker_poll_interval_s=0,  # these tests show what happens without reconciliation
            broker_check_interval_s=0,  # nor checks against the brokers (driven by the tests)
        )
        yield Stack(nats_server, bus, f, oanda, oanda_wire, binance, binance_server, settings)


async def test_an_oanda_account_order_is_filled_at_the_broker_and_booked_under_one_correlation_id(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = io.StringIO()
    monkeypatch.setattr(sys, "stdout", logs)  # the service logs JSON lines to stdout
    async with Service(stack.settings) as svc:
        p = proposal(stack.f, "oanda-1", "EUR/USD.OANDA", OrderSide.BUY, "1000")
        watch = await stack.send(p)
        await watch.until(has("order_filled"))
        decision, submitted, fill = watch.first("risk_decision"), watch.first("order_submitted"), watch.first("fill")
        assert decision.approved is True
        assert watch.types()[:6] == [
            "risk_decision",
            "order_submitted",
            "order_accepted",
            "fill",
            "position",
            "order_filled",
        ]
        assert {e.correlation_id for e in watch.events} == {p.correlation_id}
        assert (submitted.causation_id, fill.causation_id) == (decision.event_id, submitted.event_id)
        coid = decision.client_order_id
        at_broker = stack.oanda.orders[coid]
        assert (at_broker["units"], at_broker["state"]) == ("1000", "FILLED")
        assert stack.oanda.positions["EUR_USD"] == [(D(1000), D("1.08022"))]
        assert (fill.venue, fill.quantity, fill.price, fill.fee) == ("OANDA", D(1000), D("1.08022"), D("0.0500"))
        position = watch.first("position").position
        assert (position.quantity, position.avg_price) == (D(1000), D("1.08022"))
        order = (await svc.orders("oanda-1"))[coid]
        assert (order["status"], order["venue"], order["venue_order_id"]) == ("filled", "OANDA", fill.venue_order_id)
        broker_view = (await svc.client.get("/venues/OANDA/positions")).json()
        assert broker_view == [{"instrument_id": "EUR/USD.OANDA", "quantity": "1000", "avg_price": "1.08022"}]
        await watch.close()
    written = logs.getvalue()
    assert "venue_connected" in written and "order_filled" in written
    assert stack.oanda.token not in written and stack.binance.secret not in written


async def test_a_binance_account_order_goes_through_ccxt_to_the_exchange(stack: Stack) -> None:
    async with Service(stack.settings) as svc:
        p = proposal(stack.f, "binance-1", "BTC/USDT.BINANCE", OrderSide.BUY, "0.01")
        watch = await stack.send(p)
        await watch.until(has("order_filled"))
        assert watch.first("risk_decision").approved is True
        assert {"order_submitted", "order_accepted", "fill", "position"} <= set(watch.types())
        assert {e.correlation_id for e in watch.events} == {p.correlation_id}
        coid = watch.first("risk_decision").client_order_id
        assert stack.binance.orders[coid]["status"] == "FILLED"  # our client order id is the exchange's
        fill = watch.first("fill")
        # Binance takes 0.1% of the BTC received; booked in USDT at the fill price
        assert (fill.venue, fill.price, fill.fee) == ("BINANCE", D("97000.10"), D("0.00001") * D("97000.10"))
        assert watch.first("position").position.quantity == D("0.01")
        assert (await svc.orders("binance-1"))[coid]["status"] == "filled"
        await watch.close()


async def test_a_broker_rejection_is_an_order_rejected_with_the_brokers_reason(stack: Stack) -> None:
    stack.binance.balances["USDT"] = D(100)  # 0.01 BTC costs ~970 USDT
    async with Service(stack.settings) as svc:
        poor = await stack.send(proposal(stack.f, "binance-1", "BTC/USDT.BINANCE", OrderSide.BUY, "0.01"))
        await poor.until(has("order_rejected"))
        rejected = poor.first("order_rejected")
        assert (rejected.reason, rejected.venue) == ("InsufficientFunds", "BINANCE")
        assert "insufficient balance" in rejected.message
        assert "fill" not in poor.types()
        # An instrument OANDA does not list for the account is unknown to exec-sim: denied before any broker
        gbp = await stack.send(proposal(stack.f, "oanda-1", "GBP/USD.OANDA", OrderSide.SELL, "1000"))
        await gbp.until(has("risk_decision"))
        assert [r.code for r in gbp.first("risk_decision").reasons] == ["unknown_instrument"]
        # OANDA stops quoting EUR/USD after exec-sim loaded it: its error code is the reason
        del stack.oanda.quotes["EUR_USD"]
        unlisted = await stack.send(proposal(stack.f, "oanda-1", "EUR/USD.OANDA", OrderSide.SELL, "1000"))
        await unlisted.until(has("order_rejected"))
        assert unlisted.first("order_rejected").reason == "INVALID_INSTRUMENT"
        statuses = {o["status"] for o in (await svc.orders("oanda-1")).values()}
        assert statuses == {"rejected"}
        assert stack.oanda.positions == {}
        for w in (poor, gbp, unlisted):
            await w.close()


async def test_a_lost_broker_answer_leaves_the_order_unknown_counted_and_never_sent_twice(stack: Stack) -> None:
    p = proposal(stack.f, "oanda-1", "EUR/USD.OANDA", OrderSide.BUY, "2000")
    async with Service(stack.settings) as svc:
        stack.oanda_wire.lose = 1  # the order reaches OANDA; the answer does not reach exec-sim
        watch = await stack.send(p)
        await watch.until(has("order_submitted"))
        coid = watch.first("risk_decision").client_order_id
        # A later proposal on the same consumer proves the first one was handled (and did not crash it).
        later = await stack.send(proposal(stack.f, "oanda-1", "EUR/USD.OANDA", OrderSide.BUY, "1000"))
        await later.until(has("order_filled"))
        order = (await svc.orders("oanda-1"))[coid]
        assert order["status"] == "unknown" and "502" in order["unknown_reason"]
        readyz = await svc.client.get("/readyz")
        assert readyz.status_code == 200 and readyz.json()["unknown_orders"] == 1 and readyz.json()["degraded"]
        (oanda,) = (await svc.client.get("/venues")).json()[:1]
        assert [u["client_order_id"] for u in oanda["unknown_orders"]] == [coid]
        metrics = (await svc.client.get("/metrics")).text
        assert 'at_exec_sim_broker_orders_unknown_total{account_id="oanda-1",venue="OANDA"} 1.0' in metrics
        # The same proposal again (past JetStream's duplicate window): already decided, nothing is sent.
        await stack.bus.js.publish(subjects.subject_for(p), encode_event(p), headers={"Nats-Msg-Id": "again"})
        proof = await stack.send(proposal(stack.f, "oanda-1", "EUR/USD.OANDA", OrderSide.SELL, "1000"))
        await proof.until(has("order_filled"))
        assert "fill" not in watch.types()
        for w in (later, proof):
            await w.close()
    # After a restart within AT_EXEC_SIM_RESUBMIT_MAX_AGE_S of its submission (the proposal's time,
    # T0) the engine finishes the interrupted order with the same client order id: asked for at
    # OANDA first, it is found filled there and booked once, never sent again.
    async with Service(stack.settings, ManualClock(T0 + 10 * 10**9)) as again:
        await watch.until(has("order_filled"))
        assert (await again.orders("oanda-1"))[coid]["status"] == "filled"
    assert sum(1 for units, _ in stack.oanda.positions["EUR_USD"] if units == D(2000)) == 1
    assert sum(1 for e in watch.events if e.event_type == "fill") == 1
    await watch.close()


async def test_an_unreachable_exchange_leaves_the_order_unknown_without_crashing_the_consumer(
    stack: Stack,
) -> None:
    async with Service(stack.settings) as svc:
        await stack.binance_server.aclose()  # the exchange goes away after exec-sim connected to it
        watch = await stack.send(proposal(stack.f, "binance-1", "BTC/USDT.BINANCE", OrderSide.BUY, "0.01"))
        await watch.until(has("order_submitted"))
        proof = await stack.send(proposal(stack.f, "oanda-1", "EUR/USD.OANDA", OrderSide.BUY, "1000"))
        await proof.until(has("order_filled"))
        coid = watch.first("risk_decision").client_order_id
        assert (await svc.orders("binance-1"))[coid]["status"] == "unknown"
        assert not {"order_rejected", "fill"} & set(watch.types())
        assert stack.binance.orders == {}
        readyz = await svc.client.get("/readyz")
        assert readyz.status_code == 200 and readyz.json()["unknown_orders"] == 1
        for w in (watch, proof):
            await w.close()


async def test_an_exchange_down_at_start_rejects_its_orders_as_not_sent(stack: Stack) -> None:
    settings = stack.settings.model_copy(update={"ccxt_base_url": f"http://127.0.0.1:{free_port()}"})
    async with Service(settings) as svc:
        readyz = (await svc.client.get("/readyz")).json()  # the kill switch must stay reachable
        assert readyz["venues_connected"] == {"OANDA": True, "BINANCE": False} and readyz["degraded"]
        watch = await stack.send(proposal(stack.f, "binance-1", "BTC/USDT.BINANCE", OrderSide.BUY, "0.01"))
        await watch.until(has("order_rejected"))
        rejected = watch.first("order_rejected")
        assert rejected.reason == "venue_unavailable" and "not sent" in rejected.message
        assert (await svc.orders("binance-1"))[rejected.client_order_id]["status"] == "rejected"
        await watch.close()


async def test_the_kill_switch_cancels_resting_broker_orders_and_flattens_at_the_broker(stack: Stack) -> None:
    async with Service(stack.settings) as svc:
        bought = await stack.send(proposal(stack.f, "oanda-1", "EUR/USD.OANDA", OrderSide.BUY, "1000"))
        await bought.until(has("order_filled"))
        resting = await stack.send(
            proposal(
                stack.f, "oanda-1", "EUR/USD.OANDA", OrderSide.BUY, "500", order_type=OrderType.LIMIT, limit="1.07500"
            )
        )
        await resting.until(has("order_accepted"))
        limit_coid = resting.first("risk_decision").client_order_id
        assert stack.oanda.orders[limit_coid]["state"] == "PENDING"
        r = await svc.client.post("/kill-switch", json={"account_id": "oanda-1", "flatten": True})
        assert r.status_code == 200
        await resting.until(has("order_canceled"))
        assert stack.oanda.orders[limit_coid]["state"] == "CANCELLED"
        assert (await svc.orders("oanda-1"))[limit_coid]["status"] == "canceled"
        flattens = [o for o in stack.oanda.orders.values() if o["positionFill"] == "REDUCE_ONLY"]
        assert [(o["units"], o["state"]) for o in flattens] == [("-1000", "FILLED")]
        positions = (await svc.client.get("/positions", params={"account_id": "oanda-1"})).json()
        assert [p["quantity"] for p in positions] == ["0"]
        for w in (bought, resting):
            await w.close()


async def test_a_paper_venue_rests_a_limit_and_fills_it_when_the_market_crosses(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    path = tmp_path / "paper.yaml"
    path.write_text("accounts:\n  - {account_id: demo-1, profile: retail, venue: PAPER}\n")
    bus = await EventBus.connect(nats_server.url, service="test", metrics=MetricCatalog("test").build())
    await bus.ensure_streams()
    f = factory()
    await bus.publish(quote(f, "EUR/USD.FX", "1.08010", "1.08022"))
    settings = ExecSimSettings(nats_url=nats_server.url, accounts_file=str(path), paper_enabled=True)
    async with Service(settings) as svc:
        p = proposal(f, "demo-1", "EUR/USD.FX", OrderSide.BUY, "1000", order_type=OrderType.LIMIT, limit="1.07900")
        watch = await Watch(p.correlation_id).start(nats_server.url)
        await bus.publish(p)
        await watch.until(has("order_accepted"))
        assert "fill" not in watch.types()
        await bus.publish(quote(f, "EUR/USD.FX", "1.07880", "1.07890"))  # the mid crosses the limit
        await watch.until(has("order_filled"))
        fill = watch.first("fill")
        assert (fill.venue, fill.price, fill.liquidity) == ("PAPER", D("1.07900"), "maker")
        coid = watch.first("risk_decision").client_order_id
        assert (await svc.orders("demo-1"))[coid]["status"] == "filled"
        await watch.close()
    await bus.close()
