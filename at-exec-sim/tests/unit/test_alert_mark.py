"""An alert alone trades on paper and simulated venues: its price is the mark when no fresher market data exists."""

from __future__ import annotations

import random

import structlog
from tests.helpers import NO_FEES, T0, D, factory, proposal, quote

from at_core.catalog import InstrumentCatalog
from at_core.clock import ManualClock
from at_core.constants import SIM_VENUE
from at_core.events import (
    EventFactory,
    FillEvent,
    OrderSubmitted,
    RiskDecisionEvent,
    RiskReasonCode,
    TradeProposalEvent,
)
from at_core.ids import IdGenerator
from at_core.models.enums import OrderSide, PriceSource
from at_exec_sim.domain.accounts import AccountConfig, load_accounts, load_profiles
from at_exec_sim.domain.alert_mark import NS_PER_S, AlertMarkPolicy, choose_mark
from at_exec_sim.domain.engine import ExecutionEngine
from at_exec_sim.domain.venue import Market, SimVenue
from at_exec_sim.service import log_decision

POLICY = AlertMarkPolicy(max_age_ns=300 * NS_PER_S)


def _engine(clock: ManualClock, policy: AlertMarkPolicy | None = POLICY, venue: str = SIM_VENUE) -> ExecutionEngine:
    profiles = load_profiles()
    accounts = load_accounts(None, profiles)
    if venue != SIM_VENUE:
        accounts = {"paper-1": AccountConfig("paper-1", profiles["retail"], venue)}
    return ExecutionEngine(
        accounts,
        InstrumentCatalog(),
        EventFactory("exec_sim", clock, IdGenerator(clock, random.Random(1))),
        clock,
        SimVenue(fees=NO_FEES),
        policy,
    )


def _with_price(p: TradeProposalEvent, price: str) -> TradeProposalEvent:
    return p.model_copy(update={"reference_price": D(price)})


def test_a_bare_alert_fills_at_its_own_price_and_every_event_says_so() -> None:
    clock = ManualClock(T0)
    eng = _engine(clock)
    p = _with_price(proposal(factory(T0), "paper-1", "MES.CME", OrderSide.BUY, "1"), "6012.25")
    out = eng.on_proposal(p)
    decision = next(e for e in out if isinstance(e, RiskDecisionEvent))
    submitted = next(e for e in out if isinstance(e, OrderSubmitted))
    fill = next(e for e in out if isinstance(e, FillEvent))
    assert decision.approved, decision.reasons
    assert (decision.price_source, decision.mark_price) == (PriceSource.ALERT, D("6012.25"))
    assert submitted.price_source is PriceSource.ALERT and submitted.arrival_price == D("6012.25")
    assert fill.price == D("6012.25") and fill.price_source is PriceSource.ALERT


def test_fresher_market_data_wins_over_the_alert_price() -> None:
    clock = ManualClock(T0)
    eng = _engine(clock)
    p = _with_price(proposal(factory(T0), "paper-1", "MES.CME", OrderSide.BUY, "1"), "6000")
    clock.advance_to(T0 + NS_PER_S)
    eng.on_market_data(quote(factory(T0 + NS_PER_S), "MES.CME", "6010", "6010.25"))
    out = eng.on_proposal(p)
    decision = next(e for e in out if isinstance(e, RiskDecisionEvent))
    fill = next(e for e in out if isinstance(e, FillEvent))
    assert decision.approved and decision.price_source is None and decision.mark_price is None
    assert fill.price == D("6010.25") and fill.price_source is None


def test_an_alert_older_than_the_limit_is_denied_and_the_denial_says_why_and_what_to_do() -> None:
    clock = ManualClock(T0 + 301 * NS_PER_S)
    eng = _engine(clock)
    p = _with_price(proposal(factory(T0), "paper-1", "MES.CME", OrderSide.BUY, "1"), "6000")
    (decision,) = [e for e in eng.on_proposal(p) if isinstance(e, RiskDecisionEvent)]
    assert not decision.approved
    (reason,) = [r for r in decision.reasons if r.code is RiskReasonCode.NO_MARKET_PRICE]
    assert "301s old" in reason.message and "alert_price_max_age_s=300" in reason.message
    assert "/ingest/market-data" in reason.message


def test_alert_prices_off_means_every_order_needs_market_data() -> None:
    clock = ManualClock(T0)
    eng = _engine(clock, AlertMarkPolicy(max_age_ns=0))
    p = _with_price(proposal(factory(T0), "paper-1", "MES.CME", OrderSide.BUY, "1"), "6000")
    (decision,) = [e for e in eng.on_proposal(p) if isinstance(e, RiskDecisionEvent)]
    assert [r.code for r in decision.reasons] == [RiskReasonCode.NO_MARKET_PRICE]
    assert "alert_price_max_age_s=0" in decision.reasons[0].message


def test_a_real_broker_account_never_trades_on_an_alert_price() -> None:
    mark = choose_mark(None, None, D("1.1"), T0, T0, "OANDA", POLICY)
    assert mark.source is None and mark.market is None and "OANDA trades only on market data" in mark.refused


def test_market_data_a_little_older_than_the_alert_still_wins_and_stale_data_does_not() -> None:
    market = Market(bid=D(99), ask=D(101))
    recent = choose_mark(market, T0 - 30 * NS_PER_S, D(100), T0, T0, SIM_VENUE, POLICY)
    assert recent.market is market and recent.source is None  # a running feed beats the alert's close
    stale = choose_mark(market, T0 - 301 * NS_PER_S, D(100), T0, T0, SIM_VENUE, POLICY)
    assert stale.source is PriceSource.ALERT and stale.market == Market(last=D(100))


def test_stale_market_data_is_still_used_when_the_alert_price_may_not_be() -> None:
    market = Market(bid=D(99), ask=D(101))
    mark = choose_mark(market, T0 - 400 * NS_PER_S, D(100), T0, T0 + 400 * NS_PER_S, SIM_VENUE, POLICY)
    assert mark.market is market and mark.source is None and "older than" in mark.refused


def test_a_paper_broker_account_gets_the_alert_price_as_its_fill_price() -> None:
    clock = ManualClock(T0)
    eng = _engine(clock, venue="PAPER")
    p = _with_price(proposal(factory(T0), "paper-1", "MES.CME", OrderSide.BUY, "1"), "6012.25")
    out = eng.on_proposal(p)
    assert next(e for e in out if isinstance(e, RiskDecisionEvent)).price_source is PriceSource.ALERT
    assert eng.paper_price("MES.CME") == D("6012.25")  # what the paper broker fills at
    eng.on_market_data(quote(factory(T0), "MES.CME", "6011", "6011.5"))
    assert eng.paper_price("MES.CME") == D("6011.25")  # market data supersedes it


def test_a_denial_is_logged_at_warning_with_its_reasons_and_correlation_id() -> None:
    clock = ManualClock(T0 + 400 * NS_PER_S)
    eng = _engine(clock)
    p = _with_price(proposal(factory(T0), "paper-1", "MES.CME", OrderSide.BUY, "1"), "6000")
    (decision,) = [e for e in eng.on_proposal(p) if isinstance(e, RiskDecisionEvent)]
    with structlog.testing.capture_logs() as logs:
        log_decision(decision)
    (line,) = logs
    assert (line["event"], line["log_level"]) == ("risk_denied", "warning")
    assert line["correlation_id"] == p.correlation_id and line["reasons"] == ["no_market_price"]
    assert "/ingest/market-data" in line["message"]
