"""Each of the engine's components alone, built from its constructor arguments: the shared cache,
the context (catalog, factory, clock), and fakes or real components where it calls others."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal

from tests.helpers import NO_FEES, T0, D, factory, proposal, quote

from at_core.catalog import Instrument, InstrumentCatalog
from at_core.clock import ManualClock
from at_core.events import Event, EventFactory, FillEvent, OrderSubmitted, RiskDecisionEvent
from at_core.ids import IdGenerator
from at_core.metrics.exec_sim import CATALOG
from at_core.models.enums import LiquiditySide, OrderSide, OrderStatus, OrderType, TradingState
from at_core.models.orders import OrderSpec
from at_exec_sim.adapters.routing import VenueRouter
from at_exec_sim.domain.accounts import AccountConfig, load_accounts, load_profiles
from at_exec_sim.domain.core import EngineCache, EngineContext
from at_exec_sim.domain.decisions import PreTradeRisk
from at_exec_sim.domain.housekeeping import Housekeeping
from at_exec_sim.domain.ledger import Ledger
from at_exec_sim.domain.lifecycle import OrderLifecycle
from at_exec_sim.domain.ports import Balance, BrokerPosition, ExecutionReport, ReportStatus
from at_exec_sim.domain.query import EngineQuery
from at_exec_sim.domain.records import AccountRuntime, OrderRecord, Route
from at_exec_sim.domain.recovery import Recovery
from at_exec_sim.domain.trading_state import TradingControl
from at_exec_sim.domain.venue import Execution, SimVenue
from at_exec_sim.domain.venue_models import LatencyModel, NoSlippage

PAPER = "paper-1"
BUY = OrderSide.BUY


def kinds(events: list[Event]) -> list[str]:
    return [e.event_type for e in events]


@dataclass
class Parts:
    """The arguments a component is built from."""

    cache: EngineCache
    ctx: EngineContext
    venue: SimVenue
    ledger: Ledger
    evaluated: list[tuple[Event, str]] = field(default_factory=list)  # what after_fills was called with

    def after_fills(self, cause: Event, rt: AccountRuntime) -> list[Event]:
        self.evaluated.append((cause, rt.account.account_id))
        return []

    def lifecycle(self) -> OrderLifecycle:
        return OrderLifecycle(self.cache, self.ctx, self.venue, self.ledger, self.after_fills)


def parts(accounts: dict[str, AccountConfig] | None = None) -> Parts:
    clock = ManualClock(T0)
    ctx = EngineContext(
        InstrumentCatalog(), EventFactory("exec_sim", clock, IdGenerator(clock, random.Random(1))), clock
    )
    cache = EngineCache.for_accounts(accounts or load_accounts(None, load_profiles()))
    venue = SimVenue(fees=NO_FEES, slippage=NoSlippage(), latency=LatencyModel())
    return Parts(cache, ctx, venue, Ledger(cache, ctx))


def marked(p: Parts, instrument_id: str, bid: str, ask: str) -> None:
    p.cache.store_market(quote(factory(), instrument_id, bid, ask), p.ctx.instrument(instrument_id))


def approved(p: Parts, account_id: str, instrument_id: str, spec: OrderSpec) -> RiskDecisionEvent:
    request = proposal(factory(), account_id, instrument_id, spec.side, str(spec.quantity))
    return p.ctx.factory.make(
        RiskDecisionEvent,
        cause=request,
        account_id=account_id,
        instrument_id=instrument_id,
        request_event_id=request.event_id,
        approved=True,
        order=spec,
        client_order_id=spec.client_order_id or "",
    )


MARKET_1 = OrderSpec(side=BUY, quantity=D(1), order_type=OrderType.MARKET, client_order_id="O-1")


# -- the ledger (portfolio)


def test_the_ledger_books_a_round_trip_into_balance_and_todays_pnl_with_the_multiplier() -> None:
    p = parts()
    rt, mes = p.cache.accounts[PAPER], p.ctx.catalog.get("MES.CME")
    start = rt.account.balance
    p.ledger.book(rt, mes, OrderSide.BUY, D(2), D("5000.00"), D("1.24"))
    p.ledger.book(rt, mes, OrderSide.SELL, D(2), D("5001.00"), D("1.24"))
    assert rt.account.positions["MES.CME"].quantity == 0
    assert rt.account.realized_today == D(10)  # 2 x 1 point x $5
    assert (rt.account.balance, rt.account.fees_today) == (start + D(10) - D("2.48"), D("2.48"))


def test_the_ledger_cannot_value_an_account_without_the_fx_rate_of_a_position() -> None:
    p = parts()
    rt = p.cache.accounts[PAPER]
    p.ledger.book(rt, p.ctx.catalog.get("EUR/JPY.FX"), OrderSide.BUY, D(1000), D("160.000"), D(0))
    rt.account.positions["EUR/JPY.FX"].last_price = D("160.100")  # 100 JPY up, and no USD/JPY rate
    assert not isinstance(p.ledger.equity(rt), Decimal)  # the JPY rate is unknown: fail closed
    assert EngineQuery(p.cache, p.ledger).accounts(PAPER)[0].equity is None


# -- the order lifecycle


def test_the_lifecycle_fills_a_market_order_and_hands_the_account_to_the_rules_once() -> None:
    p = parts()
    marked(p, "MES.CME", "5000.00", "5000.25")
    rt, mes = p.cache.accounts[PAPER], p.ctx.catalog.get("MES.CME")
    out = p.lifecycle().submit(
        approved(p, PAPER, "MES.CME", MARKET_1), rt, mes, "s", MARKET_1, p.cache.markets["MES.CME"]
    )
    assert kinds(out) == ["order_submitted", "order_accepted", "fill", "position", "order_filled"]
    assert p.cache.orders["O-1"].status is OrderStatus.FILLED and p.cache.fills == [out[2]]
    assert p.evaluated == [(out[-1], PAPER)]  # after the order's progress, with its account


def test_the_lifecycle_routes_an_order_for_an_external_venue_and_books_its_rejection() -> None:
    p = parts({"x-1": AccountConfig("x-1", load_profiles()["retail"], venue="OANDA")})
    marked(p, "EUR/USD.FX", "1.08000", "1.08010")
    lifecycle, rt, eur = p.lifecycle(), p.cache.accounts["x-1"], p.ctx.catalog.get("EUR/USD.FX")
    spec = MARKET_1.model_copy(update={"quantity": D(1000)})
    out = lifecycle.submit(approved(p, "x-1", "EUR/USD.FX", spec), rt, eur, "s", spec, p.cache.markets["EUR/USD.FX"])
    assert kinds(out) == ["order_submitted"]
    (route,) = lifecycle.take_routes()
    assert (route.client_order_id, lifecycle.take_routes()) == ("O-1", [])  # taken once
    report = ExecutionReport("O-1", ReportStatus.REJECTED, None, (), "INSUFFICIENT_MARGIN", "no margin")
    (rejected,) = lifecycle.on_report("O-1", report)
    assert (rejected.event_type, rejected.reason, p.cache.orders["O-1"].status) == (
        "order_rejected",
        "INSUFFICIENT_MARGIN",
        OrderStatus.REJECTED,
    )
    assert p.evaluated == []  # nothing filled: the rules were not asked


# -- pre-trade risk


def test_risk_denies_an_unknown_account_and_remembers_the_decision_for_a_redelivery() -> None:
    p = parts()
    risk = PreTradeRisk(p.cache, p.ctx, p.venue, p.ledger)
    request = proposal(factory(), "ghost", "MES.CME", BUY, "1")
    decision, approval = risk.decide(request, "ghost", "MES.CME", request.order, None)
    assert (decision.approved, approval, [r.code for r in decision.reasons]) == (False, None, ["unknown_account"])
    assert risk.decided(request) and p.cache.approved == {}


def test_risk_approves_with_the_rounded_order_and_counts_it_towards_the_order_rate() -> None:
    p = parts()
    marked(p, "MES.CME", "5000.00", "5000.25")
    risk = PreTradeRisk(p.cache, p.ctx, p.venue, p.ledger)
    request = proposal(factory(), PAPER, "MES.CME", BUY, "1")
    decision, approval = risk.decide(request, PAPER, "MES.CME", request.order, None)
    assert decision.approved and approval is not None
    assert approval.spec.client_order_id == decision.client_order_id == f"O-{request.event_id}"
    assert p.cache.approved == {decision.client_order_id: decision}
    assert list(p.cache.accounts[PAPER].order_times) == [T0]


# -- trading state


def test_trading_control_halts_takes_the_stop_once_and_resumes() -> None:
    p = parts()
    trading = TradingControl(p.cache, p.ctx, p.venue, p.ledger, p.lifecycle())
    (halted,) = trading.kill_switch(None, PAPER, flatten=False)
    assert (halted.state, halted.reason, p.cache.accounts[PAPER].state) == (
        TradingState.HALTED,
        "kill_switch",
        TradingState.HALTED,
    )
    assert trading.take_stops() == {PAPER: "kill_switch"} and trading.take_stops() == {}
    (resumed,) = trading.resume(None, PAPER)
    assert resumed.state is TradingState.ACTIVE and trading.resume(None, PAPER) == []


def test_trading_control_flattens_a_position_with_a_reduce_only_market_order() -> None:
    p = parts()
    marked(p, "MES.CME", "5000.00", "5000.25")
    rt = p.cache.accounts[PAPER]
    p.ledger.book(rt, p.ctx.catalog.get("MES.CME"), OrderSide.BUY, D(3), D("5000.00"), D(0))
    trading = TradingControl(p.cache, p.ctx, p.venue, p.ledger, p.lifecycle())
    out = trading.kill_switch(None, PAPER, flatten=True)
    assert kinds(out)[:3] == ["trading_state_changed", "risk_decision", "order_submitted"]
    decision = out[1]
    assert decision.order.reduce_only and decision.order.side is OrderSide.SELL and decision.order.quantity == 3
    assert rt.account.positions["MES.CME"].quantity == 0


# -- housekeeping


def test_housekeeping_starts_a_new_trading_day_with_todays_pnl_at_zero() -> None:
    p = parts()
    lifecycle = p.lifecycle()
    housekeeping = Housekeeping(
        p.cache, p.ctx, p.venue, p.ledger, lifecycle, TradingControl(p.cache, p.ctx, p.venue, p.ledger, lifecycle)
    )
    rt = p.cache.accounts[PAPER]
    housekeeping.roll_days()
    first_day = rt.day
    rt.account.realized_today = D(-120)
    assert isinstance(p.ctx.clock, ManualClock)
    p.ctx.clock.set(rt.day_ends_ns)
    housekeeping.roll_days()
    assert rt.day != first_day and rt.account.realized_today == 0


# -- recovery


def test_recovery_rebuilds_an_order_and_its_fill_from_published_events() -> None:
    p = parts()
    recovery = Recovery(p.cache, p.ctx, p.venue, p.ledger, p.lifecycle())
    decision = approved(p, PAPER, "MES.CME", MARKET_1)
    submitted = p.ctx.factory.make(
        OrderSubmitted,
        cause=decision,
        account_id=PAPER,
        instrument_id="MES.CME",
        client_order_id="O-1",
        venue="SIM",
        order=MARKET_1,
        strategy_id="s",
        decision_event_id=decision.event_id,
    )
    fill = p.ctx.factory.make(
        FillEvent,
        cause=submitted,
        account_id=PAPER,
        strategy_id="s",
        instrument_id="MES.CME",
        client_order_id="O-1",
        venue="SIM",
        trade_id="T-1",
        side=BUY,
        quantity=D(1),
        price=D("5000.25"),
        fee=D(0),
        fee_currency="USD",
        leaves_quantity=D(0),
    )
    for event in (decision, submitted, fill):
        recovery.recover(event)
    record = p.cache.orders["O-1"]
    assert (record.status, record.filled, record.avg_price) == (OrderStatus.FILLED, D(1), D("5000.25"))
    assert p.cache.accounts[PAPER].account.positions["MES.CME"].quantity == 1
    assert p.cache.recovered_until_ns == fill.ts_event and recovery.resume_unfinished() == []


# -- the query view


def test_the_query_view_hands_out_copies_that_cannot_change_the_book() -> None:
    p = parts()
    p.cache.orders["O-1"] = OrderRecord("O-1", PAPER, "s", "MES.CME", MARKET_1, OrderStatus.ACCEPTED)
    query = EngineQuery(p.cache, p.ledger)
    (copy,) = query.orders(PAPER)
    copy.status = OrderStatus.CANCELED
    assert p.cache.orders["O-1"].status is OrderStatus.ACCEPTED
    assert query.orders("apex-50k-1") == [] and query.has_account(PAPER) and not query.has_account("ghost")


# -- the venue router talks to the OrderBook port, not to the engine


@dataclass
class FakeBook:
    """An OrderBook port with one route, recording what the router booked."""

    routes: list[Route]
    prices: dict[str, Decimal] = field(default_factory=dict)
    reports: list[tuple[str, ReportStatus, str]] = field(default_factory=list)

    def take_routes(self) -> list[Route]:
        routes, self.routes = self.routes, []
        return routes

    def take_stops(self) -> dict[str, str]:
        return {}

    def unsent(self) -> frozenset[str]:
        return frozenset(r.client_order_id for r in self.routes)

    def order(self, client_order_id: str) -> OrderRecord | None:
        return None

    def orders_at(self, venues: object) -> list[OrderRecord]:
        return []

    def canceled_from(self, start: int) -> list[OrderRecord]:
        return []

    def on_report(self, client_order_id: str, report: ExecutionReport, purpose: str = "submit") -> list[Event]:
        self.reports.append((client_order_id, report.status, purpose))
        return []

    def instrument(self, instrument_id: str) -> Instrument:
        return InstrumentCatalog().get(instrument_id)

    def add_instrument(self, instrument: Instrument) -> None:
        pass

    def last_price(self, instrument_id: str) -> Decimal | None:
        return self.prices.get(instrument_id)


class FillsOnOurPrices:
    """A broker that rests every order and fills it on the next price exec-sim gives it."""

    venue = "DEMO"

    def __init__(self) -> None:
        self.resting: list[str] = []

    async def connect(self) -> list[Instrument]:
        return []

    async def close(self) -> None:
        pass

    def on_price(self, instrument_id: str, price: Decimal) -> list[ExecutionReport]:
        filled, self.resting = self.resting, []
        ex = Execution(D(1), price, D(0), LiquiditySide.TAKER)
        return [ExecutionReport(c, ReportStatus.FILLED, f"D-{c}", (ex,)) for c in filled]

    async def submit(self, client_order_id: str, instrument: Instrument, spec: OrderSpec) -> ExecutionReport:
        self.resting.append(client_order_id)
        return ExecutionReport(client_order_id, ReportStatus.ACCEPTED, f"D-{client_order_id}")

    async def cancel(self, client_order_id: str, instrument: Instrument) -> ExecutionReport:
        return ExecutionReport(client_order_id, ReportStatus.CANCELED)

    async def order_status(self, client_order_id: str, instrument: Instrument) -> ExecutionReport:
        return ExecutionReport(client_order_id, ReportStatus.ACCEPTED)

    async def balances(self) -> dict[str, Balance]:
        return {}

    async def positions(self) -> list[BrokerPosition]:
        return []


async def test_the_router_sends_routes_and_books_fills_on_our_prices_through_the_port_alone() -> None:
    p = parts()
    decision = approved(p, PAPER, "MES.CME", MARKET_1)
    submitted = p.ctx.factory.make(
        OrderSubmitted,
        cause=decision,
        account_id=PAPER,
        instrument_id="MES.CME",
        client_order_id="O-1",
        venue="DEMO",
        order=MARKET_1,
        strategy_id="s",
        decision_event_id=decision.event_id,
    )
    book = FakeBook([Route("O-1", p.ctx.catalog.get("MES.CME"), MARKET_1, submitted)])
    router = VenueRouter({"DEMO": FillsOnOurPrices()}, CATALOG.build(), p.ctx.clock)
    await router.connect_all(book)

    async def publish(events: list[Event]) -> None:
        pass

    await router.drain(book, publish)
    tick = quote(factory(), "MES.CME", "5000.00", "5000.25")
    assert await router.on_market(book, tick) == [] and book.reports == [("O-1", ReportStatus.ACCEPTED, "submit")]
    book.prices["MES.CME"] = D("5000.125")  # no price, nothing asked; with one, the broker fills
    await router.on_market(book, tick)
    assert book.reports[1] == ("O-1", ReportStatus.FILLED, f"md:{tick.event_id}")
