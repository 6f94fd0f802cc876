"""Ingest events: signals (TradingView, PineScript, API), market data, chart snapshots, rejects."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from at_core.events.envelope import Event
from at_core.models.base import FrozenModel, Identifier, NonNegativeDecimal, PositiveDecimal, TimestampNs
from at_core.models.brackets import BracketSpec
from at_core.models.enums import (
    AssetClass,
    IngestSource,
    MarketDataKind,
    OrderSide,
    OrderType,
    PositionSide,
    SignalAction,
)


class BarData(FrozenModel):
    kind: Literal[MarketDataKind.BAR] = MarketDataKind.BAR
    interval: Identifier = Field(description="TradingView interval: '1', '5', '60', 'D', ...")
    open: PositiveDecimal
    high: PositiveDecimal
    low: PositiveDecimal
    close: PositiveDecimal
    volume: NonNegativeDecimal = Decimal(0)
    ts_open: TimestampNs | None = None


class QuoteData(FrozenModel):
    kind: Literal[MarketDataKind.QUOTE] = MarketDataKind.QUOTE
    bid: PositiveDecimal
    ask: PositiveDecimal
    bid_size: NonNegativeDecimal = Decimal(0)
    ask_size: NonNegativeDecimal = Decimal(0)


class TradeData(FrozenModel):
    kind: Literal[MarketDataKind.TRADE] = MarketDataKind.TRADE
    price: PositiveDecimal
    size: NonNegativeDecimal
    aggressor: OrderSide | None = None
    trade_id: str | None = None


MarketData = Annotated[BarData | QuoteData | TradeData, Field(discriminator="kind")]


class SignalEvent(Event):
    """A trading signal from any ingest path, normalised.

    ``action`` is what the alert asked for; the target-position fields let consumers act
    on "be at X" (``position_size`` is signed, as TradingView's ``strategy.position_size``).
    ``bracket`` is the stop loss / take profit / trailing stop the alert asked for, carried by
    agents onto the proposal's order.
    """

    OMIT_WHEN_DEFAULT: ClassVar[frozenset[str]] = frozenset({"bracket"})

    event_type: Literal["signal"] = "signal"
    origin: IngestSource
    account_id: Identifier
    strategy_id: Identifier
    instrument_id: Identifier
    asset_class: AssetClass
    ticker: str = Field(description="The ticker as received, before normalisation")
    action: SignalAction
    quantity: PositiveDecimal | None = None
    order_type: OrderType = OrderType.MARKET
    limit_price: PositiveDecimal | None = None
    stop_price: PositiveDecimal | None = None
    price: PositiveDecimal | None = Field(
        default=None, description="Reference price at the alert (close / order price)"
    )
    position_size: Decimal | None = None
    market_position: PositionSide | None = None
    prev_market_position: PositionSide | None = None
    size_multiplier: PositiveDecimal = Decimal(1)
    alert_id: str | None = None
    interval: str | None = None
    comment: str | None = None
    indicators: dict[str, Decimal] = Field(default_factory=dict)
    bar: BarData | None = None
    raw_body: str = Field(default="", description="Body as received, secrets redacted, for audit")
    automated: bool = Field(
        default=True,
        description="The signal came from an automated source (a TradingView alert, a script); "
        "True unless the sender is known to be a person, so a firm that forbids automation fails closed",
    )
    bracket: BracketSpec | None = Field(default=None, description="Exits the alert asked for on its entry")


class MarketDataEvent(Event):
    event_type: Literal["market_data"] = "market_data"
    instrument_id: Identifier
    venue: Identifier
    data: MarketData


#: Most members one batch may carry (a message stays well under nats-server's 1 MB payload limit).
MAX_BATCH_EVENTS = 1_000


class MarketDataBatchEvent(Event):
    """Consecutive market data of one instrument in one message: a backtest's bars between two barriers.

    Each member is a whole :class:`MarketDataEvent` with its own id, time and correlation;
    consumers handle the members in order exactly as if each had come alone (their outputs
    are caused by the member, never by the batch), so a batch changes how many messages
    cross the bus, not what the stack does. ``ts_event`` is the last member's.
    """

    event_type: Literal["market_data_batch"] = "market_data_batch"
    instrument_id: Identifier
    venue: Identifier
    events: Annotated[list[MarketDataEvent], Field(min_length=1, max_length=MAX_BATCH_EVENTS)]

    @model_validator(mode="after")
    def _one_instrument_in_order(self) -> MarketDataBatchEvent:
        last = None
        for member in self.events:
            if (member.instrument_id, member.venue) != (self.instrument_id, self.venue):
                raise ValueError(f"member {member.event_id} is {member.venue}/{member.instrument_id}, not the batch's")
            if last is not None and member.ts_event < last:
                raise ValueError(f"member {member.event_id} is earlier than the one before it")
            last = member.ts_event
        return self


class ChartSnapshotEvent(Event):
    """A chart screenshot stored in the JetStream Object Store."""

    event_type: Literal["chart_snapshot"] = "chart_snapshot"
    instrument_id: Identifier
    interval: str | None = None
    bucket: Identifier
    object_name: Identifier
    content_type: Literal["image/png", "image/jpeg"]
    size_bytes: Annotated[int, Field(gt=0)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    account_id: Identifier | None = None
    strategy_id: Identifier | None = None


class RejectedInputEvent(Event):
    """An input the gateway refused, kept on the dead-letter subject for operators to inspect or replay."""

    event_type: Literal["rejected_input"] = "rejected_input"
    route: str
    status_code: Annotated[int, Field(ge=400, le=599)]
    reason: Identifier = Field(description="Machine-readable reason code, e.g. 'auth_failed', 'stale', 'placeholder'")
    detail: str = ""
    raw_body: str = Field(default="", description="Secrets redacted; may be truncated")
    remote_addr: str | None = None
