"""A valid, realistic example of every event type, as one causal chain under one correlation id.

A TradingView strategy alert on MES becomes a signal, two agents' views, a proposal, an
approval, an order that fills, a position and an account state. Deterministic: a fixed
clock and seed, so the examples are the same bytes in every run.
"""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal
from typing import Any

from at_core.clock import ManualClock
from at_core.events import (
    AccountStateEvent,
    AgentAnalysisEvent,
    AgentVote,
    BarData,
    BrokerDifference,
    BrokerMismatchEvent,
    ChartSnapshotEvent,
    ContractExpiryWarningEvent,
    Event,
    EventFactory,
    ExecutionRequest,
    FillEvent,
    Heartbeat,
    MarketDataBatchEvent,
    MarketDataEvent,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderSubmitted,
    OrderUpdated,
    PositionEvent,
    QuoteData,
    RejectedInputEvent,
    RiskDecisionEvent,
    RiskReason,
    RiskReasonCode,
    SignalEvent,
    TradeProposalEvent,
    TradingStateChangedEvent,
)
from at_core.ids import IdGenerator
from at_core.models.brackets import BracketLevel, BracketRole, BracketSpec, BracketUnit
from at_core.models.enums import (
    AssetClass,
    IngestSource,
    LiquiditySide,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionSide,
    SignalAction,
    Stance,
    TimeInForce,
    TradingState,
)
from at_core.models.orders import OrderSpec
from at_core.models.portfolio import PositionSnapshot, RuleHeadroom

T0 = 1_795_000_000_000_000_000  # 2026-11-18T11:06:40Z
MES = "MES.CME"
ACCOUNT = "topstep-50k-1"
STRATEGY = "mes-trend"


def all_examples() -> list[Event]:
    """Every example, variants included (a bar as well as a quote, a denial as well as an approval)."""
    clock = ManualClock(T0)
    ids = IdGenerator(clock, random.Random(7))
    gw, ag, ex = (EventFactory(s, clock, ids) for s in ("gateway", "agents", "exec_sim"))
    d = Decimal

    signal = gw.make(
        SignalEvent,
        origin=IngestSource.TRADINGVIEW,
        account_id=ACCOUNT,
        strategy_id=STRATEGY,
        instrument_id=MES,
        asset_class=AssetClass.FUTURE,
        ticker="CME_MINI:MES1!",
        action=SignalAction.BUY,
        quantity=d(2),
        price=d("6012.25"),
        position_size=d(2),
        market_position=PositionSide.LONG,
        prev_market_position=PositionSide.FLAT,
        alert_id="tv-0001",
        interval="5",
        raw_body='{"ticker":"MES1!","action":"buy","contracts":"2","passphrase":"***"}',
    )
    clock.advance(1_000_000)
    quote = gw.make(
        MarketDataEvent,
        instrument_id=MES,
        venue="CME",
        data=QuoteData(bid=d("6012.00"), ask=d("6012.25"), bid_size=d(40), ask_size=d(35)),
    )
    bar = gw.make(
        MarketDataEvent,
        instrument_id=MES,
        venue="CME",
        data=BarData(
            interval="5", open=d("6008.5"), high=d("6013"), low=d("6007.75"), close=d("6012.25"), volume=d(18234)
        ),
    )
    chart = gw.make(
        ChartSnapshotEvent,
        instrument_id=MES,
        interval="5",
        bucket="at_charts",
        object_name="MES/2026-11-18T0906Z.png",
        content_type="image/png",
        size_bytes=48213,
        sha256="ab" * 32,
    )
    rejected = gw.make(
        RejectedInputEvent,
        route="/webhooks/tradingview",
        status_code=401,
        reason="auth_failed",
        detail="passphrase did not match",
        raw_body='{"passphrase":"***"}',
        remote_addr="52.89.214.238",
    )
    clock.advance(2_000_000)
    follower = ag.make(
        AgentAnalysisEvent,
        cause=signal,
        agent_id="signal_follower",
        agent_kind="rule",
        account_id=ACCOUNT,
        strategy_id=STRATEGY,
        instrument_id=MES,
        trigger_event_id=signal.event_id,
        stance=Stance.LONG,
        conviction=d("0.8"),
        target_quantity=d(2),
        stop_price=d("6000.25"),
        rationale="TradingView strategy went long 2",
        evidence_ids=[signal.event_id],
    )
    llm = ag.make(
        AgentAnalysisEvent,
        cause=signal,
        agent_id="claude_analyst",
        agent_kind="llm",
        account_id=ACCOUNT,
        strategy_id=STRATEGY,
        instrument_id=MES,
        trigger_event_id=signal.event_id,
        abstained=True,
        abstain_reason="timeout after 8.0s",
        model="anthropic:claude-sonnet-4-5",
    )
    order = OrderSpec(
        side=OrderSide.BUY,
        quantity=d(2),
        order_type=OrderType.MARKET,
        time_in_force=TimeInForce.DAY,
        client_order_id="P-" + signal.event_id,
    )
    proposal = ag.make(
        TradeProposalEvent,
        cause=signal,
        account_id=ACCOUNT,
        strategy_id=STRATEGY,
        instrument_id=MES,
        signal_event_id=signal.event_id,
        order=order,
        target_position=d(2),
        stop_price=d("6000.25"),
        reference_price=d("6012.25"),
        committee="mes-default",
        combination_rule="weighted_mean",
        combined_conviction=d("0.8"),
        votes=[
            AgentVote(
                agent_id="signal_follower", analysis_event_id=follower.event_id, stance=Stance.LONG, conviction=d("0.8")
            ),
            AgentVote(
                agent_id="claude_analyst", analysis_event_id=llm.event_id, stance=None, conviction=None, abstained=True
            ),
        ],
        rationale="1 of 1 voting agent long",
    )
    clock.advance(500_000)
    decision = ex.make(
        RiskDecisionEvent,
        cause=proposal,
        account_id=ACCOUNT,
        instrument_id=MES,
        request_event_id=proposal.event_id,
        approved=True,
        order=order,
        client_order_id="P-" + signal.event_id,
        profile_id="topstep_50k",
        profile_version="2026-11-01",
    )
    common: dict[str, Any] = {
        "account_id": ACCOUNT,
        "instrument_id": MES,
        "client_order_id": "P-" + signal.event_id,
        "venue": "SIM",
    }
    submitted = ex.make(
        OrderSubmitted,
        cause=decision,
        **common,
        order=order,
        strategy_id=STRATEGY,
        decision_event_id=decision.event_id,
        arrival_price=d("6012.25"),
    )
    accepted = ex.make(OrderAccepted, cause=submitted, **common, venue_order_id="SIM-1")
    partial = ex.make(
        OrderPartiallyFilled,
        cause=accepted,
        **common,
        venue_order_id="SIM-1",
        filled_quantity=d(1),
        leaves_quantity=d(1),
        avg_price=d("6012.25"),
    )
    fill = ex.make(
        FillEvent,
        cause=accepted,
        account_id=ACCOUNT,
        strategy_id=STRATEGY,
        instrument_id=MES,
        client_order_id="P-" + signal.event_id,
        venue="SIM",
        venue_order_id="SIM-1",
        trade_id="SIM-T-1",
        side=OrderSide.BUY,
        quantity=d(2),
        price=d("6012.50"),
        fee=d("0.74"),
        fee_currency="USD",
        liquidity=LiquiditySide.TAKER,
        arrival_price=d("6012.25"),
        slippage_ticks=d(1),
        slippage_amount=d("2.50"),
        signal_ts_event=signal.ts_event,
    )
    filled = ex.make(
        OrderFilled, cause=fill, **common, venue_order_id="SIM-1", filled_quantity=d(2), avg_price=d("6012.50")
    )
    rejected_order = ex.make(
        OrderRejected, cause=decision, **common, reason="no_market_price", message="no quote for MES.CME"
    )
    canceled = ex.make(OrderCanceled, cause=accepted, **common, venue_order_id="SIM-1", reason="operator")
    expired = ex.make(OrderExpired, cause=accepted, **common, venue_order_id="SIM-1")
    position = ex.make(
        PositionEvent,
        cause=fill,
        change="opened",
        position=PositionSnapshot(
            account_id=ACCOUNT,
            instrument_id=MES,
            quantity=d(2),
            side=PositionSide.LONG,
            avg_price=d("6012.50"),
            realized_pnl=d(0),
            unrealized_pnl=d("-2.50"),
            fees=d("0.74"),
            currency="USD",
            last_price=d("6012.25"),
        ),
    )
    account = ex.make(
        AccountStateEvent,
        cause=fill,
        account_id=ACCOUNT,
        currency="USD",
        balance=d("49999.26"),
        equity=d("49996.76"),
        realized_pnl_today=d(0),
        unrealized_pnl=d("-2.50"),
        fees_today=d("0.74"),
        trading_state=TradingState.ACTIVE,
        profile_id="topstep_50k",
        headroom=[
            RuleHeadroom(rule="daily_loss", limit=d(1000), used=d("3.24"), headroom=d("996.76"), floor=d("49000"))
        ],
    )
    state = ex.make(
        TradingStateChangedEvent,
        account_id=ACCOUNT,
        state=TradingState.HALTED,
        previous_state=TradingState.ACTIVE,
        reason="kill_switch",
        message="operator pressed the kill switch",
        flatten=True,
    )
    request = gw.make(
        ExecutionRequest,
        account_id=ACCOUNT,
        instrument_id=MES,
        requested_by="ops@desk",
        order=OrderSpec(
            side=OrderSide.SELL,
            quantity=d(1),
            order_type=OrderType.LIMIT,
            limit_price=d("6020.00"),
            time_in_force=TimeInForce.GTC,
        ),
    )
    denial = ex.make(
        RiskDecisionEvent,
        cause=request,
        account_id=ACCOUNT,
        instrument_id=MES,
        request_event_id=request.event_id,
        approved=False,
        order=request.order,
        client_order_id="R-" + request.event_id,
        reasons=[
            RiskReason(
                code=RiskReasonCode.DAILY_LOSS_LIMIT,
                message="daily loss limit reached",
                limit=d(1000),
                value=d("1004.50"),
            )
        ],
    )
    heartbeat = ex.make(Heartbeat, service="exec_sim", instance="0", sequence=42)
    expiry = ex.make(
        ContractExpiryWarningEvent,
        account_id=ACCOUNT,
        instrument_id="MESZ2026.CME",
        last_trade=date(2026, 12, 18),
        days_left=3,
        quantity=d(2),
        message="MESZ2026.CME last trades on 2026-12-18: roll or close",
    )
    mismatch = ex.make(
        BrokerMismatchEvent,
        account_id=ACCOUNT,
        venue="topstepx",
        status="mismatch",
        differences=[BrokerDifference(kind="position", item="MESZ2026.CME", ours=d(2), theirs=d(1))],
        halted=True,
        message="topstepx holds MESZ2026.CME 1, exec-sim 2",
    )
    # A bracket: an entry with a stop 8 ticks away and a target at a price; its stop child.
    bracket_request = gw.make(
        ExecutionRequest,
        account_id=ACCOUNT,
        instrument_id=MES,
        requested_by="ops@desk",
        order=OrderSpec(
            side=OrderSide.BUY,
            quantity=d(2),
            bracket=BracketSpec(
                stop_loss=BracketLevel(value=d(8), unit=BracketUnit.TICKS),
                take_profit=BracketLevel(value=d("6030.00")),
            ),
        ),
    )
    child = {**common, "client_order_id": common["client_order_id"] + ":sl"}
    child_submitted = ex.make(
        OrderSubmitted,
        cause=fill,
        **child,
        order=OrderSpec(
            side=OrderSide.SELL,
            quantity=d(1),
            order_type=OrderType.STOP_MARKET,
            stop_price=d("6010.50"),
            reduce_only=True,
            client_order_id=child["client_order_id"],
        ),
        strategy_id=STRATEGY,
        decision_event_id=decision.event_id,
        parent_client_order_id=common["client_order_id"],
        bracket_role=BracketRole.STOP_LOSS,
    )
    child_updated = ex.make(
        OrderUpdated,
        cause=fill,
        **child,
        status=OrderStatus.ACCEPTED,
        quantity=d(2),
        stop_price=d("6010.50"),
        reason="entry_fill",
        parent_client_order_id=common["client_order_id"],
        bracket_role=BracketRole.STOP_LOSS,
    )

    return [
        signal,
        quote,
        bar,
        chart,
        rejected,
        follower,
        llm,
        proposal,
        decision,
        submitted,
        accepted,
        partial,
        fill,
        filled,
        rejected_order,
        canceled,
        expired,
        position,
        account,
        state,
        request,
        denial,
        heartbeat,
        expiry,
        mismatch,
        bracket_request,
        child_submitted,
        child_updated,
        gw.make(MarketDataBatchEvent, ts_event=bar.ts_event, instrument_id=MES, venue="CME", events=[bar]),
    ]


def example_events() -> dict[str, Event]:
    """One valid instance of every event type, keyed by ``event_type`` (the first of each)."""
    out: dict[str, Event] = {}
    for event in all_examples():
        out.setdefault(event.event_type, event)
    return out
