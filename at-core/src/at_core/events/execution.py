"""Execution events: the order lifecycle, fills, positions, account state, trading state."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from at_core.events.envelope import Event, EventId
from at_core.models.base import FrozenModel, Identifier, NonNegativeDecimal, PositiveDecimal, TimestampNs
from at_core.models.brackets import BracketRole
from at_core.models.enums import LiquiditySide, OrderSide, OrderStatus, PriceSource, TradingState
from at_core.models.orders import ClientOrderId, OrderSpec
from at_core.models.portfolio import PositionSnapshot, RuleHeadroom


class OrderEvent(Event):
    """Fields every order lifecycle event carries.

    A bracket's child (its stop or target) carries ``parent_client_order_id`` (the entry's
    client order id, which is also the OCO group) and ``bracket_role``; other orders leave both
    unset, and they are then left out of the encoding.
    """

    OMIT_WHEN_DEFAULT: ClassVar[frozenset[str]] = frozenset({"parent_client_order_id", "bracket_role"})

    account_id: Identifier
    instrument_id: Identifier
    client_order_id: Identifier
    venue: Identifier
    venue_order_id: str | None = None
    status: OrderStatus
    parent_client_order_id: ClientOrderId | None = Field(
        default=None, description="A bracket child's entry order (its OCO group)"
    )
    bracket_role: BracketRole | None = Field(default=None, description="stop_loss or take_profit on a child")


class OrderSubmitted(OrderEvent):
    event_type: Literal["order_submitted"] = "order_submitted"
    status: Literal[OrderStatus.SUBMITTED] = OrderStatus.SUBMITTED
    order: OrderSpec
    strategy_id: Identifier
    decision_event_id: EventId
    arrival_price: PositiveDecimal | None = Field(default=None, description="Market price at submission, for slippage")
    price_source: PriceSource | None = Field(
        default=None, description="null: arrival_price is market data; alert: the alert's price served as the mark"
    )


class OrderAccepted(OrderEvent):
    event_type: Literal["order_accepted"] = "order_accepted"
    status: Literal[OrderStatus.ACCEPTED] = OrderStatus.ACCEPTED


class OrderRejected(OrderEvent):
    event_type: Literal["order_rejected"] = "order_rejected"
    status: Literal[OrderStatus.REJECTED] = OrderStatus.REJECTED
    reason: Identifier
    message: str = ""


class OrderCanceled(OrderEvent):
    event_type: Literal["order_canceled"] = "order_canceled"
    status: Literal[OrderStatus.CANCELED] = OrderStatus.CANCELED
    reason: str = ""


class OrderExpired(OrderEvent):
    event_type: Literal["order_expired"] = "order_expired"
    status: Literal[OrderStatus.EXPIRED] = OrderStatus.EXPIRED


class OrderPartiallyFilled(OrderEvent):
    event_type: Literal["order_partially_filled"] = "order_partially_filled"
    status: Literal[OrderStatus.PARTIALLY_FILLED] = OrderStatus.PARTIALLY_FILLED
    filled_quantity: PositiveDecimal
    leaves_quantity: PositiveDecimal
    avg_price: PositiveDecimal


class OrderUpdated(OrderEvent):
    """A working order changed: a bracket child resized to its entry's fill, or a trailing stop moved.

    ``status`` is the order's status after the change (accepted or partially filled). Published on
    ``at.order.updated.<account>.<instrument>``.
    """

    event_type: Literal["order_updated"] = "order_updated"
    quantity: PositiveDecimal = Field(description="The order's quantity now")
    stop_price: PositiveDecimal | None = None
    limit_price: PositiveDecimal | None = None
    reason: Identifier = Field(description="'entry_fill' (resized), 'trailing' (stop moved), ...")


class OrderFilled(OrderEvent):
    event_type: Literal["order_filled"] = "order_filled"
    status: Literal[OrderStatus.FILLED] = OrderStatus.FILLED
    filled_quantity: PositiveDecimal
    avg_price: PositiveDecimal


class FillEvent(Event):
    """One execution against an order (a bracket child's fill carries its parent and role)."""

    OMIT_WHEN_DEFAULT: ClassVar[frozenset[str]] = frozenset({"parent_client_order_id", "bracket_role"})

    event_type: Literal["fill"] = "fill"
    account_id: Identifier
    strategy_id: Identifier
    instrument_id: Identifier
    client_order_id: Identifier
    venue: Identifier
    venue_order_id: str | None = None
    trade_id: Identifier
    side: OrderSide
    quantity: PositiveDecimal
    price: PositiveDecimal
    fee: Decimal = Decimal(0)
    fee_currency: str
    liquidity: LiquiditySide = LiquiditySide.TAKER
    arrival_price: PositiveDecimal | None = None
    slippage_ticks: Decimal | None = Field(
        default=None, description="Adverse slippage vs arrival price, in ticks (> 0 is worse)"
    )
    slippage_amount: Decimal | None = Field(default=None, description="Adverse slippage in account currency")
    leaves_quantity: NonNegativeDecimal = Decimal(0)
    signal_ts_event: TimestampNs | None = Field(
        default=None, description="ts_event of the originating signal, for latency"
    )
    price_source: PriceSource | None = Field(
        default=None, description="null: filled on market data; alert: on the alert's price (paper, simulated)"
    )
    parent_client_order_id: ClientOrderId | None = None
    bracket_role: BracketRole | None = None


class PositionEvent(Event):
    event_type: Literal["position"] = "position"
    position: PositionSnapshot
    change: Literal["opened", "changed", "closed", "flipped", "marked"]


class AccountStateEvent(Event):
    event_type: Literal["account_state"] = "account_state"
    account_id: Identifier
    currency: str
    balance: Decimal
    equity: Decimal
    realized_pnl_today: Decimal
    unrealized_pnl: Decimal
    fees_today: Decimal = Decimal(0)
    trading_state: TradingState
    profile_id: Identifier | None = None
    headroom: list[RuleHeadroom] = Field(default_factory=list)


class TradingStateChangedEvent(Event):
    event_type: Literal["trading_state_changed"] = "trading_state_changed"
    account_id: Identifier
    state: TradingState
    previous_state: TradingState
    locked_until_ns: TimestampNs | None = None
    reason: Identifier = Field(description="Machine-readable: 'kill_switch', 'daily_loss_limit', 'resume', ...")
    message: str = ""
    flatten: bool = False


class ContractExpiryWarningEvent(Event):
    """A held futures contract is near its last trade date: roll or close it before the exchange does."""

    event_type: Literal["contract_expiry_warning"] = "contract_expiry_warning"
    account_id: Identifier
    instrument_id: Identifier
    last_trade: date
    days_left: Annotated[int, Field(ge=0, description="Calendar days from today to the last trade date")]
    quantity: Decimal = Field(description="The signed position held")
    message: str = ""


class BrokerDifference(FrozenModel):
    """One line where exec-sim's book and the broker's differ."""

    kind: Literal["position", "balance"]
    item: Identifier = Field(description="The instrument id (a position) or the currency (a balance)")
    ours: Decimal = Field(
        description="exec-sim's value: the signed quantity, or the balance change since the check began"
    )
    theirs: Decimal = Field(description="The broker's value, measured the same way")


class BrokerMismatchEvent(Event):
    """exec-sim's positions or balance for an account differ from its broker's on two checks in a
    row (``status`` ``mismatch``), or agree again after that (``restored``). Orders in flight at the
    venue postpone a check rather than count as a difference."""

    event_type: Literal["broker_mismatch"] = "broker_mismatch"
    account_id: Identifier
    venue: Identifier
    status: Literal["mismatch", "restored"]
    differences: list[BrokerDifference] = Field(default_factory=list, description="Empty when restored")
    halted: bool = Field(False, description="The account was halted for it (``broker_mismatch_halt``)")
    message: str = ""


class Heartbeat(Event):
    event_type: Literal["heartbeat"] = "heartbeat"
    service: Identifier
    instance: Identifier
    status: Literal["ok", "degraded", "stopping"] = "ok"
    sequence: Annotated[int, Field(ge=0)] = 0
