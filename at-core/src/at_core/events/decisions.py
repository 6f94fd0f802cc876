"""Decision events: agents' analyses, trade proposals, risk decisions, manual execution requests."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from at_core.events.envelope import Event, EventId
from at_core.models.base import FrozenModel, Identifier, PositiveDecimal
from at_core.models.enums import Stance
from at_core.models.orders import OrderSpec

Conviction = Annotated[Decimal, Field(ge=-1, le=1)]


class AgentAnalysisEvent(Event):
    """One agent's view of one triggering event. Rule and LLM agents share this shape.

    An abstaining agent sets ``abstained`` and ``abstain_reason``; its stance is then
    ignored by every combination rule. There is no silent neutral.
    """

    event_type: Literal["agent_analysis"] = "agent_analysis"
    agent_id: Identifier
    agent_kind: Literal["rule", "llm"]
    account_id: Identifier
    strategy_id: Identifier
    instrument_id: Identifier
    trigger_event_id: EventId
    stance: Stance | None = None
    conviction: Conviction | None = None
    target_quantity: Decimal | None = Field(default=None, description="Signed target position, if the agent has one")
    quantity: PositiveDecimal | None = None
    stop_price: PositiveDecimal | None = None
    target_price: PositiveDecimal | None = None
    rationale: Annotated[str, Field(max_length=4000)] = ""
    evidence_ids: list[str] = Field(default_factory=list)
    abstained: bool = False
    abstain_reason: str | None = None
    model: str | None = Field(default=None, description="provider:model for LLM agents")
    prompt_version: str | None = None
    inputs_hash: str | None = None
    latency_ms: Decimal | None = None
    input_tokens: int | None = Field(default=None, ge=0, description="LLM agents: prompt tokens the model counted")
    output_tokens: int | None = Field(default=None, ge=0, description="LLM agents: completion tokens the model counted")
    debate_role: Literal["bull", "bear", "judge"] | None = Field(
        default=None, description="Set on the turns of a debate committee; None for ordinary members"
    )
    debate_round: int | None = Field(default=None, ge=1, description="A debate turn's round (the judge: rounds + 1)")

    @model_validator(mode="after")
    def _abstain_or_view(self) -> Self:
        if self.abstained:
            if not self.abstain_reason:
                raise ValueError("an abstaining analysis needs abstain_reason")
        elif self.stance is None or self.conviction is None:
            raise ValueError("a non-abstaining analysis needs stance and conviction")
        return self


class AgentVote(FrozenModel):
    """How one agent's view entered a combination."""

    agent_id: Identifier
    analysis_event_id: EventId
    stance: Stance | None
    conviction: Conviction | None
    weight: Decimal = Decimal(1)
    abstained: bool = False
    dropped_reason: str | None = Field(default=None, description="Set when the agent missed the deadline or failed")


class TradeProposalEvent(Event):
    """A proposed order, with every view and rule that produced it. exec-sim's risk engine decides."""

    event_type: Literal["trade_proposal"] = "trade_proposal"
    account_id: Identifier
    strategy_id: Identifier
    instrument_id: Identifier
    signal_event_id: EventId
    order: OrderSpec
    target_position: Decimal | None = None
    stop_price: PositiveDecimal | None = None
    take_profit_price: PositiveDecimal | None = None
    reference_price: PositiveDecimal | None = None
    committee: Identifier
    combination_rule: Identifier
    combined_conviction: Conviction | None = None
    votes: list[AgentVote] = Field(default_factory=list)
    clamps: list[str] = Field(default_factory=list, description="Every size clamp the gate applied")
    rationale: str = ""
    paper: bool = True


class RiskReasonCode(StrEnum):
    """Machine-readable reasons a risk check denies (or adjusts) an order."""

    UNKNOWN_ACCOUNT = "unknown_account"
    UNKNOWN_INSTRUMENT = "unknown_instrument"
    NO_MARKET_PRICE = "no_market_price"
    INSTRUMENT_NOT_ALLOWED = "instrument_not_allowed"
    PRICE_PRECISION = "price_precision"
    QUANTITY_PRECISION = "quantity_precision"
    PRICE_NOT_POSITIVE = "price_not_positive"
    QUANTITY_BELOW_MIN = "quantity_below_min"
    QUANTITY_ABOVE_MAX = "quantity_above_max"
    NOTIONAL_BELOW_MIN = "notional_below_min"
    REDUCE_ONLY_WOULD_INCREASE = "reduce_only_would_increase"
    FAT_FINGER = "fat_finger"
    MAX_ORDER_QUANTITY = "max_order_quantity"
    MAX_POSITION = "max_position"
    MAX_TOTAL_POSITION = "max_total_position"
    MAX_NOTIONAL = "max_notional"
    ORDER_RATE = "order_rate"
    TRADING_HALTED = "trading_halted"
    TRADING_REDUCING = "trading_reducing"
    TRADING_LOCKED = "trading_locked"
    OUTSIDE_SESSION = "outside_session"
    DAILY_LOSS_LIMIT = "daily_loss_limit"
    TRAILING_DRAWDOWN = "trailing_drawdown"
    STATIC_MAX_LOSS = "static_max_loss"
    PROJECTED_DAILY_LOSS = "projected_daily_loss"
    PROJECTED_TRAILING_DRAWDOWN = "projected_trailing_drawdown"
    DUPLICATE = "duplicate"
    KILL_SWITCH = "kill_switch"
    CONVERSION_RATE_MISSING = "conversion_rate_missing"
    AUTOMATION_NOT_ALLOWED = "automation_not_allowed"
    #: The profile requires a stop on every entry and this entry has none.
    STOP_REQUIRED = "stop_required"
    #: The entry's bracket cannot work against the market price (a stop on the wrong side).
    BRACKET_INVALID = "bracket_invalid"
    #: The risk check itself failed on this input (a bug or an input it cannot price): fail closed.
    INTERNAL_ERROR = "internal_error"


class RiskReason(FrozenModel):
    code: RiskReasonCode
    message: str
    limit: Decimal | None = None
    value: Decimal | None = None


class RiskDecisionEvent(Event):
    """Approved or denied, with reasons. A denial is an outcome, not an error."""

    event_type: Literal["risk_decision"] = "risk_decision"
    account_id: Identifier
    instrument_id: Identifier
    request_event_id: EventId = Field(description="The proposal or execution request decided on")
    approved: bool
    order: OrderSpec = Field(description="The order as approved (rounded), or as requested when denied")
    client_order_id: Identifier
    reasons: list[RiskReason] = Field(default_factory=list)
    profile_id: Identifier | None = None
    profile_version: Identifier | None = None

    @model_validator(mode="after")
    def _denial_has_reason(self) -> Self:
        if not self.approved and not self.reasons:
            raise ValueError("a denial needs at least one reason")
        return self


class ExecutionRequest(Event):
    """A manual order from an operator (gateway ``POST /orders``): a command, not a fact."""

    event_type: Literal["execution_request"] = "execution_request"
    account_id: Identifier
    instrument_id: Identifier
    order: OrderSpec
    requested_by: Identifier
    strategy_id: Identifier = "manual"
    note: str = ""
