"""The engine's records: accounts at run time, orders, routes for external venues; the
constants and small functions its parts share."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from at_core.catalog import Instrument
from at_core.constants import SIM_VENUE
from at_core.events import OrderSubmitted
from at_core.models.brackets import BracketRole
from at_core.models.enums import OrderStatus, TradingState
from at_core.models.orders import OrderSpec
from at_exec_sim.domain.accounts import AccountConfig
from at_exec_sim.domain.portfolio import Account
from at_exec_sim.domain.rules import RuleState

VENUE = SIM_VENUE
NS_PER_MIN = 60_000_000_000
SESSION_CUTOFF = "session_cutoff"
SESSION_OPEN = "session_open"
#: An order in one of these may still fill (at its venue, or in flight to it).
OPEN_STATUSES = frozenset({OrderStatus.SUBMITTED, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED})


@dataclass
class AccountRuntime:
    config: AccountConfig
    account: Account
    rules: RuleState
    state: TradingState = TradingState.ACTIVE
    locked_until_ns: int | None = None
    order_times: deque[int] = field(default_factory=deque)
    day: date | None = None  # the trading day the "today" counters belong to
    day_ends_ns: int = 0
    state_reason: str = ""  # why the account is in its state ("session_cutoff", "daily_loss", ...)
    state_message: str = ""  # the state change's message ("daily loss breached at equity 48950")
    state_since_ns: int | None = None  # when it entered the state (None: active since the start)
    session_check_ns: int = 0  # sessions: nothing opens or closes before this time
    cutoff_ns: int | None = None  # the end of the session whose cutoff was applied
    session_seen_ns: int | None = None  # when sessions were last looked at


@dataclass
class OrderRecord:
    client_order_id: str
    account_id: str
    strategy_id: str
    instrument_id: str
    spec: OrderSpec
    status: OrderStatus
    filled: Decimal = Decimal(0)
    avg_price: Decimal | None = None
    arrival_price: Decimal | None = None
    signal_ts_event: int | None = None
    submitted: OrderSubmitted | None = None
    venue: str = VENUE
    venue_order_id: str | None = None
    parent_client_order_id: str | None = None  # a bracket child's entry (domain/brackets.py)
    bracket_role: BracketRole | None = None


@dataclass(frozen=True)
class Route:
    """An approved order bound for an external venue's adapter."""

    client_order_id: str
    instrument: Instrument
    spec: OrderSpec
    submitted: OrderSubmitted


def multiplier(inst: Instrument) -> Decimal:
    # a field of some instrument models only: ``getattr``'s miss on a pydantic model raises and
    # catches an AttributeError inside, which cost a tenth of a fill
    return inst.__dict__.get("contract_size") or inst.multiplier


def pnl_currency(inst: Instrument) -> str:
    return inst.currency


def position_change(before: Decimal, after: Decimal) -> str:
    if before == 0 and after != 0:
        return "opened"
    if after == 0:
        return "closed"
    if (before > 0) != (after > 0):
        return "flipped"
    return "changed"
