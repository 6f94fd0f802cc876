"""A deterministic stand-in for the trading services in replay mode, for at-obs tests only.

at-obs never imports a service, so replay is tested against this small stack: it turns bars
and signals into the same event chain the real services publish (analysis, proposal, risk
decision, order events, fill, position, account state, a halt on a daily-loss breach), with
derived ids and a clock that follows the events. ``python -m tests.paper_stack`` rewrites the
recorded session in ``tests/fixtures/session.jsonl`` (a test fails when it is stale).
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import nats

from at_core import subjects
from at_core.clock import ManualClock
from at_core.events import (
    AccountStateEvent,
    AgentAnalysisEvent,
    AgentVote,
    BarData,
    Event,
    EventFactory,
    FillEvent,
    MarketDataEvent,
    OrderAccepted,
    OrderFilled,
    OrderSubmitted,
    PositionEvent,
    RiskDecisionEvent,
    RiskReason,
    RiskReasonCode,
    SignalEvent,
    TradeProposalEvent,
    TradingStateChangedEvent,
)
from at_core.ids import IdGenerator
from at_core.models.enums import (
    AssetClass,
    IngestSource,
    OrderSide,
    OrderType,
    PositionSide,
    SignalAction,
    Stance,
    TimeInForce,
    TradingState,
)
from at_core.models.orders import OrderSpec
from at_core.models.portfolio import PositionSnapshot, RuleHeadroom
from at_core.runtime.bus import event_headers
from at_core.serialization import decode_event, encode_event

D = Decimal
MES, ACCOUNT, STRATEGY = "MES.CME", "topstep-50k-1", "mes-trend"
TICK, POINT_VALUE, FEE = D("0.25"), D(5), D("0.37")
START_BALANCE, DAILY_LOSS, MAX_POSITION = D(50_000), D(150), D(3)
T0 = 1_795_000_000_000_000_000
MINUTE = 60_000_000_000


class PaperStack:
    """Signals and bars in, the services' outputs out. Pure and deterministic."""

    def __init__(self) -> None:
        self.clock = ManualClock(T0)
        ids = IdGenerator(self.clock, random.Random(0))
        self.agents = EventFactory("agents", self.clock, ids)
        self.exec = EventFactory("exec_sim", self.clock, ids)
        self.last: Decimal | None = None
        self.qty, self.avg = D(0), D(0)
        self.realized, self.fees = D(0), D(0)
        self.state = TradingState.ACTIVE

    def handle(self, event: Event) -> list[Event]:
        self.clock.advance_to(event.ts_event)
        if isinstance(event, MarketDataEvent) and isinstance(event.data, BarData):
            self.last = event.data.close
            return [self._account(event)] if self.qty else []
        if isinstance(event, SignalEvent):
            return self._signal(event)
        return []

    def _unrealized(self) -> Decimal:
        return (self.last - self.avg) * self.qty * POINT_VALUE if self.qty and self.last else D(0)

    def _account(self, cause: Event) -> AccountStateEvent:
        used = max(D(0), -(self.realized - self.fees + self._unrealized()))
        return self.exec.make(
            AccountStateEvent,
            cause=cause,
            derive_from="account",
            account_id=ACCOUNT,
            currency="USD",
            balance=START_BALANCE + self.realized - self.fees,
            equity=START_BALANCE + self.realized - self.fees + self._unrealized(),
            realized_pnl_today=self.realized,
            unrealized_pnl=self._unrealized(),
            fees_today=self.fees,
            trading_state=self.state,
            profile_id="topstep_50k",
            headroom=[
                RuleHeadroom(
                    rule="daily_loss",
                    limit=DAILY_LOSS,
                    used=used,
                    headroom=DAILY_LOSS - used,
                    floor=START_BALANCE - DAILY_LOSS,
                )
            ],
        )

    def _signal(self, signal: SignalEvent) -> list[Event]:
        target = signal.position_size if signal.position_size is not None else D(0)
        delta = target - self.qty
        stance = Stance.LONG if target > 0 else Stance.FLAT
        analysis = self.agents.make(
            AgentAnalysisEvent,
            cause=signal,
            derive_from="analysis:signal_follower",
            agent_id="signal_follower",
            agent_kind="rule",
            account_id=ACCOUNT,
            strategy_id=STRATEGY,
            instrument_id=MES,
            trigger_event_id=signal.event_id,
            stance=stance,
            conviction=D("0.8"),
            target_quantity=target,
            rationale=f"strategy position {target}",
            evidence_ids=[signal.event_id],
        )
        if delta == 0:
            return [analysis]
        order = OrderSpec(
            side=OrderSide.BUY if delta > 0 else OrderSide.SELL,
            quantity=abs(delta),
            order_type=OrderType.MARKET,
            time_in_force=TimeInForce.DAY,
            client_order_id="P-" + signal.event_id,
        )
        proposal = self.agents.make(
            TradeProposalEvent,
            cause=signal,
            derive_from="proposal",
            account_id=ACCOUNT,
            strategy_id=STRATEGY,
            instrument_id=MES,
            signal_event_id=signal.event_id,
            order=order,
            target_position=target,
            reference_price=signal.price,
            committee="mes-default",
            combination_rule="weighted_mean",
            combined_conviction=D("0.8"),
            votes=[
                AgentVote(
                    agent_id="signal_follower", analysis_event_id=analysis.event_id, stance=stance, conviction=D("0.8")
                )
            ],
            rationale="signal follower",
        )
        reasons = []
        if self.state != TradingState.ACTIVE and target > self.qty:
            reasons.append(RiskReason(code=RiskReasonCode.TRADING_HALTED, message="account halted"))
        elif abs(target) > MAX_POSITION:
            reasons.append(
                RiskReason(
                    code=RiskReasonCode.MAX_POSITION, message="over max position", limit=MAX_POSITION, value=target
                )
            )
        decision = self.exec.make(
            RiskDecisionEvent,
            cause=proposal,
            derive_from="risk",
            account_id=ACCOUNT,
            instrument_id=MES,
            request_event_id=proposal.event_id,
            approved=not reasons,
            order=order,
            client_order_id=order.client_order_id,
            reasons=reasons,
            profile_id="topstep_50k",
            profile_version="2026-11-01",
        )
        if reasons:
            return [analysis, proposal, decision]
        return [analysis, proposal, decision, *self._execute(signal, decision, order)]

    def _execute(self, signal: SignalEvent, decision: RiskDecisionEvent, order: OrderSpec) -> list[Event]:
        assert order.client_order_id is not None and self.last is not None
        common: dict[str, Any] = {
            "account_id": ACCOUNT,
            "instrument_id": MES,
            "client_order_id": order.client_order_id,
            "venue": "SIM",
        }
        submitted = self.exec.make(
            OrderSubmitted,
            cause=decision,
            derive_from="submitted",
            **common,
            order=order,
            strategy_id=STRATEGY,
            decision_event_id=decision.event_id,
            arrival_price=self.last,
        )
        venue_id = "SIM-" + order.client_order_id[-8:]
        accepted = self.exec.make(
            OrderAccepted, cause=submitted, derive_from="accepted", **common, venue_order_id=venue_id
        )
        buy = order.side == OrderSide.BUY
        price = self.last + TICK if buy else self.last - TICK
        signed = order.quantity if buy else -order.quantity
        if self.qty and (self.qty > 0) != (signed > 0):
            closed = min(abs(signed), abs(self.qty))
            self.realized += (price - self.avg) * closed * POINT_VALUE * (1 if self.qty > 0 else -1)
        new_qty = self.qty + signed
        if new_qty and (not self.qty or (self.qty > 0) == (signed > 0)):
            self.avg = (self.avg * abs(self.qty) + price * abs(signed)) / abs(new_qty)
        self.qty = new_qty
        self.fees += FEE * order.quantity
        fill = self.exec.make(
            FillEvent,
            cause=accepted,
            derive_from="fill",
            account_id=ACCOUNT,
            strategy_id=STRATEGY,
            instrument_id=MES,
            client_order_id=order.client_order_id,
            venue="SIM",
            venue_order_id=venue_id,
            trade_id="T-" + order.client_order_id[-8:],
            side=order.side,
            quantity=order.quantity,
            price=price,
            fee=FEE * order.quantity,
            fee_currency="USD",
            arrival_price=self.last,
            slippage_ticks=D(1),
            slippage_amount=TICK * POINT_VALUE * order.quantity,
            signal_ts_event=signal.ts_event,
        )
        filled = self.exec.make(
            OrderFilled,
            cause=fill,
            derive_from="filled",
            **common,
            venue_order_id=venue_id,
            filled_quantity=order.quantity,
            avg_price=price,
        )
        side = PositionSide.LONG if self.qty > 0 else PositionSide.SHORT if self.qty < 0 else PositionSide.FLAT
        position = self.exec.make(
            PositionEvent,
            cause=fill,
            derive_from="position",
            change="opened" if abs(self.qty) == order.quantity and side != PositionSide.FLAT else "changed",
            position=PositionSnapshot(
                account_id=ACCOUNT,
                instrument_id=MES,
                quantity=abs(self.qty),
                side=side,
                avg_price=self.avg if self.qty else D(0),
                realized_pnl=self.realized,
                unrealized_pnl=self._unrealized(),
                fees=self.fees,
                currency="USD",
                last_price=self.last,
            ),
        )
        out: list[Event] = [submitted, accepted, fill, filled, position, self._account(fill)]
        if self.realized - self.fees <= -DAILY_LOSS and self.state == TradingState.ACTIVE:
            self.state = TradingState.HALTED
            out.append(
                self.exec.make(
                    TradingStateChangedEvent,
                    cause=fill,
                    derive_from="halt",
                    account_id=ACCOUNT,
                    state=TradingState.HALTED,
                    previous_state=TradingState.ACTIVE,
                    reason="daily_loss_limit",
                    message="daily loss limit reached",
                )
            )
        return out


def session_inputs() -> list[Event]:
    """A morning on MES: 5-minute bars, a long that loses, a re-entry, an oversized order, a halt."""
    clock = ManualClock(T0)
    gw = EventFactory("gateway", clock, IdGenerator(clock, random.Random(1)))
    closes = ["6012.25", "6014", "6011.5", "6006", "6003.25", "6008", "6010.5", "6001", "5992.75", "5990", "5995.5"]
    positions = {1: 2, 3: 0, 4: 3, 6: 5, 8: 0, 9: 1}
    out: list[Event] = []
    for i, close in enumerate(closes):
        clock.set(T0 + i * 5 * MINUTE)
        c = D(close)
        out.append(
            gw.make(
                MarketDataEvent,
                instrument_id=MES,
                venue="CME",
                data=BarData(interval="5", open=c + 1, high=c + 2, low=c - 2, close=c, volume=D(1000 + i)),
            )
        )
        if i in positions:
            clock.advance(30_000_000_000)
            target = D(positions[i])
            out.append(
                gw.make(
                    SignalEvent,
                    origin=IngestSource.TRADINGVIEW,
                    account_id=ACCOUNT,
                    strategy_id=STRATEGY,
                    instrument_id=MES,
                    asset_class=AssetClass.FUTURE,
                    ticker="CME_MINI:MES1!",
                    action=SignalAction.BUY if target > 0 else SignalAction.EXIT,
                    price=c,
                    position_size=target,
                    market_position=PositionSide.LONG if target > 0 else PositionSide.FLAT,
                    alert_id=f"tv-{i:04d}",
                    interval="5",
                )
            )
    return out


def recorded_session() -> list[Event]:
    """Inputs interleaved with the outputs each caused, as the recorder would have kept them."""
    stack, out = PaperStack(), []
    for event in session_inputs():
        out.append(event)
        out.extend(stack.handle(event))
    return out


async def serve(url: str) -> nats.aio.client.Client:
    """Run a PaperStack on ``url``: every input on the bus is answered with its outputs."""
    nc = await nats.connect(url, name="paper-stack")
    js = nc.jetstream()
    stack = PaperStack()

    async def on(msg: Any) -> None:
        for out in stack.handle(decode_event(msg.data)):
            await js.publish(subjects.subject_for(out), encode_event(out), headers=event_headers(out))

    # One subscription, so inputs are handled one at a time in bus order.
    await nc.subscribe(subjects.ALL, cb=on)
    await nc.flush()
    return nc


if __name__ == "__main__":
    from pathlib import Path

    from at_obs.domain.replay import write_jsonl

    path = Path(__file__).resolve().parent / "fixtures" / "session.jsonl"
    path.parent.mkdir(exist_ok=True)
    path.write_text(write_jsonl(recorded_session()))
    print(f"wrote {path}")
