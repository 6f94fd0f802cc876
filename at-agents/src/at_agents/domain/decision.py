"""From a signal and every agent's view to events: one analysis per agent, at most one proposal. Pure."""

from __future__ import annotations

from decimal import Decimal

from at_agents.domain.analysis import Analysis
from at_agents.domain.committee import CommitteeConfig, combine, desired, gate
from at_core.clock import NANOS_PER_MILLI
from at_core.events import AgentAnalysisEvent, AgentVote, EventFactory, SignalEvent, TradeProposalEvent
from at_core.ids import derive_id, ulid_timestamp_ms
from at_core.models.enums import OrderSide, OrderType, TimeInForce
from at_core.models.orders import OrderSpec
from at_core.models.trusted import check_trusted, trusted

FOLLOWER = "signal_follower"
SIZER = "volatility_sizer"

#: The fields a trusted analysis event and vote are built with, in their declared order: checked
#: against at-core's models at import, so a field added there sends this module back to review.
_ANALYSIS_FIELDS = (
    "event_id", "event_type", "schema_version", "ts_event", "ts_init", "source", "correlation_id",
    "causation_id", "agent_id", "agent_kind", "account_id", "strategy_id", "instrument_id",
    "trigger_event_id", "stance", "conviction", "target_quantity", "quantity", "stop_price",
    "target_price", "rationale", "evidence_ids", "abstained", "abstain_reason", "model",
    "prompt_version", "inputs_hash", "latency_ms", "input_tokens", "output_tokens", "debate_role",
    "debate_round",
)  # fmt: skip
_VOTE_FIELDS = ("agent_id", "analysis_event_id", "stance", "conviction", "weight", "abstained", "dropped_reason")
for _cls, _names in ((AgentAnalysisEvent, _ANALYSIS_FIELDS), (AgentVote, _VOTE_FIELDS)):
    check_trusted(_cls)
    if tuple(_cls.model_fields) != _names:
        raise TypeError(f"{_cls.__name__}'s fields changed: update at_agents.domain.decision's trusted builders")
#: What ``factory.make`` marks as set: every field given, and schema_version (stamped before validation)
_ANALYSIS_SET = set(_ANALYSIS_FIELDS) - {"event_type", "target_price"}
_VOTE_SET = set(_VOTE_FIELDS)
_ANALYSIS_VERSION = AgentAnalysisEvent.SCHEMA_VERSION


def id_time_ns(signal: SignalEvent) -> int:
    """The time part of the ids derived from ``signal`` (its own id's), read once per signal."""
    return ulid_timestamp_ms(signal.event_id) * NANOS_PER_MILLI


def _identifier(value: str) -> bool:
    return 1 <= len(value) <= 128


def rule_analysis_event(
    factory: EventFactory,
    signal: SignalEvent,
    agent_id: str,
    view: Analysis,
    latency_ms: Decimal | None,
    id_ts_ns: int,
) -> AgentAnalysisEvent:
    """:func:`analysis_event` for a rule agent's view, without validating again what is validated.

    The view was validated when the agent made it, the signal when it was consumed: the event holds
    those values. What only the event checks (a view's stance and conviction, or an abstention's
    reason; the identifiers' lengths; a finite latency) is checked here, and a view that fails
    goes through the validated construction, which says why. ``id_ts_ns``: :func:`id_time_ns`.
    Never for LLM views or debate turns: those stay validated (:func:`analysis_event`).
    """
    abstained = view.abstained
    if (
        type(view) is not Analysis
        or not (view.abstain_reason if abstained else view.stance is not None and view.conviction is not None)
        or not _identifier(agent_id)
        or not _identifier(factory.source)
        or (latency_ms is not None and not latency_ms.is_finite())
    ):
        return analysis_event(factory, signal, agent_id, "rule", view, latency_ms)
    values = {
        "event_id": derive_id(signal.event_id, f"analysis:{agent_id}", id_ts_ns),
        "event_type": "agent_analysis",
        "schema_version": _ANALYSIS_VERSION,
        "ts_event": signal.ts_event,
        "ts_init": factory.clock.now_ns(),
        "source": factory.source,
        "correlation_id": signal.correlation_id,
        "causation_id": signal.event_id,
        "agent_id": agent_id,
        "agent_kind": "rule",
        "account_id": signal.account_id,
        "strategy_id": signal.strategy_id,
        "instrument_id": signal.instrument_id,
        "trigger_event_id": signal.event_id,
        "stance": None if abstained else view.stance,
        "conviction": None if abstained else view.conviction,
        "target_quantity": view.target_quantity,
        "quantity": view.quantity,
        "stop_price": view.stop_price,
        "target_price": None,
        "rationale": view.rationale[:4000],
        "evidence_ids": list(view.evidence_ids),
        "abstained": abstained,
        "abstain_reason": view.abstain_reason,
        "model": view.model,
        "prompt_version": view.prompt_version,
        "inputs_hash": view.inputs_hash,
        "latency_ms": latency_ms,
        "input_tokens": view.input_tokens,
        "output_tokens": view.output_tokens,
        "debate_role": None,
        "debate_round": None,
    }
    return trusted(AgentAnalysisEvent, values, _ANALYSIS_SET)


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
    reducing = is_reducing(signal, current, target)
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
        votes=votes_of(config, views, analyses, dropped),
        clamps=clamps,
        rationale=f"{follow.rationale}; {outcome.reason}" + (f"; dropped {dropped}" if dropped else ""),
        automated=True,  # the committee decided: no person placed this trade, whatever the signal's source
    )
    return proposal, outcome.reason


def is_reducing(signal: SignalEvent, current: Decimal, target: Decimal) -> bool:
    """Whether moving from ``current`` to ``target`` only reduces the position (reduce-only order).

    Only for target-position alerts: an order-style alert ("sell 1") must not be refused
    because this service's view of the position lags exec-sim's.
    """
    return (
        signal.position_size is not None
        and current != 0
        and abs(target) < abs(current)
        and (target == 0 or (target > 0) == (current > 0))
    )


def votes_of(
    config: CommitteeConfig,
    views: dict[str, Analysis],
    analyses: dict[str, AgentAnalysisEvent],
    dropped: dict[str, str],
) -> list[AgentVote]:
    """Each member's vote, in the committee's order (members without an analysis left out).

    A rule agent's vote repeats its analysis event's values (validated, or checked as validation
    would): built trusted. Any other vote (an LLM agent's, a weight that is not finite) is validated.
    """
    out = []
    for m in config.members:
        analysis = analyses.get(m.agent_id)
        if analysis is None:
            continue
        view = views[m.agent_id]
        values = {
            "agent_id": m.agent_id,
            "analysis_event_id": analysis.event_id,
            "stance": None if view.abstained else view.stance,
            "conviction": None if view.abstained else view.conviction,
            "weight": m.weight,
            "abstained": view.abstained,
            "dropped_reason": dropped.get(m.agent_id),
        }
        rule = (
            analysis.agent_kind == "rule"
            and type(view) is Analysis
            and analysis.agent_id == m.agent_id
            and type(m.weight) is Decimal
            and m.weight.is_finite()
        )
        out.append(trusted(AgentVote, values, _VOTE_SET) if rule else AgentVote(**values))
    return out
