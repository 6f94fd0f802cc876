"""From a signal and every agent's view to events: one analysis per agent, at most one proposal. Pure."""

from __future__ import annotations

from decimal import Decimal

from at_agents.domain.analysis import Analysis
from at_agents.domain.committee import CommitteeConfig, combine, desired, gate
from at_core.events import AgentAnalysisEvent, AgentVote, Event, EventFactory, SignalEvent, TradeProposalEvent
from at_core.models.enums import OrderSide, OrderType, TimeInForce
from at_core.models.orders import OrderSpec

FOLLOWER = "signal_follower"
SIZER = "volatility_sizer"


def analysis_event(
    factory: EventFactory,
    signal: SignalEvent,
    agent_id: str,
    kind: str,
    view: Analysis,
    latency_ms: Decimal | None = None,
    turn: tuple[str, int] | None = None,
) -> AgentAnalysisEvent:
    """The event for one view; ``turn`` (role, round) marks a debate turn (an argument gets its own id per round)."""
    role, round_ = turn if turn is not None else (None, None)
    return factory.make(
        AgentAnalysisEvent,
        cause=signal,
        derive_from=f"analysis:{agent_id}" + (f":round{round_}" if role in ("bull", "bear") else ""),
        agent_id=agent_id,
        agent_kind="llm" if kind == "llm" else "rule",
        account_id=signal.account_id,
        strategy_id=signal.strategy_id,
        instrument_id=signal.instrument_id,
        trigger_event_id=signal.event_id,
        stance=None if view.abstained else view.stance,
        conviction=None if view.abstained else view.conviction,
        target_quantity=view.target_quantity,
        quantity=view.quantity,
        stop_price=view.stop_price,
        rationale=view.rationale[:4000],
        evidence_ids=view.evidence_ids,
        abstained=view.abstained,
        abstain_reason=view.abstain_reason,
        model=view.model,
        prompt_version=view.prompt_version,
        inputs_hash=view.inputs_hash,
        latency_ms=latency_ms,
        input_tokens=view.input_tokens,
        output_tokens=view.output_tokens,
        debate_role=role,
        debate_round=round_,
    )


def decide(
    factory: EventFactory,
    signal: SignalEvent,
    config: CommitteeConfig,
    views: dict[str, Analysis],
    analyses: dict[str, AgentAnalysisEvent],
    dropped: dict[str, str],
    current: Decimal,
    reference_price: Decimal | None,
) -> tuple[TradeProposalEvent | None, str]:
    """The proposal (or None) and why."""
    follow = desired(views, FOLLOWER)
    if follow is None or follow.target_quantity is None:
        reason = views[FOLLOWER].abstain_reason if FOLLOWER in views else dropped.get(FOLLOWER, "no follower view")
        return None, f"no target: {reason}"
    target = follow.target_quantity
    delta = target - current
    if delta == 0:
        return None, "already at target"
    direction = 1 if delta > 0 else -1
    # Reduce-only only for target-position alerts: an order-style alert ("sell 1") must not be
    # refused because this service's view of the position lags exec-sim's.
    reducing = (
        signal.position_size is not None
        and current != 0
        and abs(target) < abs(current)
        and (target == 0 or (target > 0) == (current > 0))
    )
    outcome = combine(config, views)
    if outcome.reason.startswith("vetoed") and not reducing:
        return None, outcome.reason
    if not reducing and outcome.direction != direction:
        return None, f"committee disagrees: {outcome.reason}"
    sizer = views.get(SIZER)
    cap = sizer.quantity if sizer is not None and not sizer.abstained and not reducing else None
    quantity, clamps = gate(abs(delta), str(signal.asset_class), config, cap)
    if quantity <= 0:
        return None, "size clamped to zero"
    order = OrderSpec(
        side=OrderSide.BUY if direction > 0 else OrderSide.SELL,
        quantity=quantity,
        order_type=OrderType.MARKET,
        time_in_force=TimeInForce.GTC,
        reduce_only=reducing,
        client_order_id=f"P-{signal.event_id}",
        # the alert's stop / target / trailing stop ride on the entry; a reducing order has no bracket
        bracket=None if reducing else signal.bracket,
    )
    votes = [
        AgentVote(
            agent_id=m.agent_id,
            analysis_event_id=analyses[m.agent_id].event_id,
            stance=None if views[m.agent_id].abstained else views[m.agent_id].stance,
            conviction=None if views[m.agent_id].abstained else views[m.agent_id].conviction,
            weight=m.weight,
            abstained=views[m.agent_id].abstained,
            dropped_reason=dropped.get(m.agent_id),
        )
        for m in config.members
        if m.agent_id in analyses
    ]
    proposal = factory.make(
        TradeProposalEvent,
        cause=signal,
        derive_from="proposal",
        account_id=signal.account_id,
        strategy_id=signal.strategy_id,
        instrument_id=signal.instrument_id,
        signal_event_id=signal.event_id,
        order=order,
        target_position=target,
        stop_price=follow.stop_price,
        reference_price=reference_price,
        committee=config.name,
        combination_rule=config.rule,
        combined_conviction=outcome.conviction
        if outcome.conviction is not None and abs(outcome.conviction) <= 1
        else None,
        votes=votes,
        clamps=clamps,
        rationale=f"{follow.rationale}; {outcome.reason}" + (f"; dropped {dropped}" if dropped else ""),
    )
    return proposal, outcome.reason


def events_for(proposal: TradeProposalEvent | None, analyses: dict[str, AgentAnalysisEvent]) -> list[Event]:
    out: list[Event] = list(analyses.values())
    if proposal is not None:
        out.append(proposal)
    return out
