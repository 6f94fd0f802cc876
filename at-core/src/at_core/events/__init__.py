"""Every at-core event, and the registry that decodes them by ``event_type``."""

from __future__ import annotations

from at_core.events.decisions import (
    AgentAnalysisEvent,
    AgentVote,
    ExecutionRequest,
    RiskDecisionEvent,
    RiskReason,
    RiskReasonCode,
    TradeProposalEvent,
)
from at_core.events.envelope import Event, EventFactory
from at_core.events.execution import (
    AccountStateEvent,
    ContractExpiryWarningEvent,
    FillEvent,
    Heartbeat,
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderSubmitted,
    OrderUpdated,
    PositionEvent,
    TradingStateChangedEvent,
)
from at_core.events.signals import (
    BarData,
    ChartSnapshotEvent,
    MarketDataEvent,
    QuoteData,
    RejectedInputEvent,
    SignalEvent,
    TradeData,
)

#: Every concrete event class, in a stable order (schemas and docs follow it).
EVENT_CLASSES: tuple[type[Event], ...] = (
    SignalEvent,
    MarketDataEvent,
    ChartSnapshotEvent,
    RejectedInputEvent,
    AgentAnalysisEvent,
    TradeProposalEvent,
    RiskDecisionEvent,
    ExecutionRequest,
    OrderSubmitted,
    OrderAccepted,
    OrderRejected,
    OrderCanceled,
    OrderExpired,
    OrderPartiallyFilled,
    OrderFilled,
    OrderUpdated,
    FillEvent,
    PositionEvent,
    AccountStateEvent,
    TradingStateChangedEvent,
    ContractExpiryWarningEvent,
    Heartbeat,
)

#: ``event_type`` wire value -> class.
EVENT_REGISTRY: dict[str, type[Event]] = {cls.type_name(): cls for cls in EVENT_CLASSES}

__all__ = [
    "EVENT_CLASSES",
    "EVENT_REGISTRY",
    "AccountStateEvent",
    "AgentAnalysisEvent",
    "AgentVote",
    "BarData",
    "ChartSnapshotEvent",
    "ContractExpiryWarningEvent",
    "Event",
    "EventFactory",
    "ExecutionRequest",
    "FillEvent",
    "Heartbeat",
    "MarketDataEvent",
    "OrderAccepted",
    "OrderCanceled",
    "OrderEvent",
    "OrderExpired",
    "OrderFilled",
    "OrderPartiallyFilled",
    "OrderRejected",
    "OrderSubmitted",
    "OrderUpdated",
    "PositionEvent",
    "QuoteData",
    "RejectedInputEvent",
    "RiskDecisionEvent",
    "RiskReason",
    "RiskReasonCode",
    "SignalEvent",
    "TradeData",
    "TradeProposalEvent",
    "TradingStateChangedEvent",
]
