"""Risk primitives as data: limits an account's risk engine enforces.

exec-sim evaluates them; these models only describe them, so a rule profile can be
stored, versioned, published and diffed like any other contract.
"""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import Field

from at_core.models.base import FrozenModel, Identifier, NonNegativeDecimal, PositiveDecimal


class LossBasis(StrEnum):
    BALANCE = "balance"  # realised only
    EQUITY = "equity"  # realised + unrealised


class TrailingBasis(StrEnum):
    END_OF_DAY_BALANCE = "end_of_day_balance"  # Topstep-style
    INTRADAY_REALIZED = "intraday_realized"
    INTRADAY_UNREALIZED = "intraday_unrealized"  # Apex-style: trails the peak of open equity


class BreachKind(StrEnum):
    """What a breach does to the account."""

    HARD = "hard"  # the account failed: flattened and halted until an operator acts
    SOFT = "soft"  # flattened and locked until the next trading day opens (Topstep's daily loss limit)


class RuleSource(FrozenModel):
    """Where a rule comes from, and when it was last checked against that source."""

    effective_date: date
    checked_on: date
    source: str = Field(min_length=1, description="URL or document the rule was read from")
    assumption: bool = Field(
        default=False, description="The firm does not publish this (or it was not read on its own page): our guess"
    )
    note: str = ""


class DailyLossLimit(FrozenModel):
    """Daily loss: the floor is the day's reference value less ``amount``.

    ``reference`` is what is taken at the reset as the day's starting value (FTMO: the *balance*
    at midnight Prague), ``basis`` what is measured against the floor during the day (FTMO:
    *equity*, open P&L included). ``reference`` None means the same as ``basis``.
    """

    amount: PositiveDecimal
    basis: LossBasis = LossBasis.EQUITY
    reference: LossBasis | None = None
    reset_time: time = time(17, 0)
    timezone: str = "America/Chicago"
    breach: BreachKind = BreachKind.HARD
    calendar: str | None = Field(
        default=None, description="A soft breach locks until this calendar's first session at or after the reset"
    )
    source: RuleSource | None = None

    @property
    def reference_basis(self) -> LossBasis:
        return self.reference or self.basis


class TrailingDrawdown(FrozenModel):
    """Trailing max drawdown: the floor follows the peak of ``basis`` by ``amount``.

    ``stop_trailing_at_offset`` says where the floor stops rising, relative to the
    starting balance: 0 means the floor locks at the starting balance, 100 at start + 100.
    None means it trails forever.
    """

    amount: PositiveDecimal
    basis: TrailingBasis
    stop_trailing_at_offset: Decimal | None = Decimal(0)
    source: RuleSource | None = None


class StaticMaxLoss(FrozenModel):
    amount: PositiveDecimal
    basis: LossBasis = LossBasis.EQUITY
    source: RuleSource | None = None


class SessionWindow(FrozenModel):
    """A window in which new orders are allowed; outside it, positions are flattened if asked."""

    start: time
    end: time
    timezone: str = "America/New_York"
    days: Annotated[list[int], Field(min_length=1)] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4], description="ISO weekday 0=Mon"
    )
    flatten_at_end: bool = False
    calendar: str | None = Field(
        default=None,
        description="Market calendar (at_core.markets.calendars) the window is cut to: a holiday drops it, "
        "an early close ends it (and moves the flatten) earlier",
    )


class RiskLimits(FrozenModel):
    """Every limit an account carries. A None limit is not enforced."""

    OMIT_WHEN_DEFAULT: ClassVar[frozenset[str]] = frozenset({"require_stop"})

    max_order_quantity: PositiveDecimal | None = None
    max_position_per_instrument: PositiveDecimal | None = None
    max_total_position: PositiveDecimal | None = Field(default=None, description="In full-size (mini) equivalents")
    count_micros_as_minis: bool = False  # True: a micro weighs its mini_equivalent (TopstepX 10:1); else 1
    max_notional_per_order: PositiveDecimal | None = None
    max_orders_per_minute: Annotated[int, Field(gt=0)] | None = None
    fat_finger_band_pct: NonNegativeDecimal | None = Field(default=None, description="Max % away from the last price")
    instrument_allowlist: list[Identifier] | None = None
    product_allowlist: list[Identifier] | None = Field(
        default=None, description="Futures roots the firm lists (ES, MES, ...); anything else is instrument_not_allowed"
    )
    daily_loss: DailyLossLimit | None = None
    trailing_drawdown: TrailingDrawdown | None = None
    static_max_loss: StaticMaxLoss | None = None
    sessions: list[SessionWindow] = Field(default_factory=list)
    expiry_warning_days: Annotated[int, Field(ge=0)] = Field(
        default=3, description="Warn this many calendar days before a held futures contract's last trade date"
    )
    require_stop: bool = Field(
        default=False, description="Every entry must carry a bracket with a stop loss or trailing stop"
    )


class RiskProfile(FrozenModel):
    """A named, versioned set of limits (e.g. a prop-firm account type)."""

    profile_id: Identifier
    version: Identifier
    description: str = ""
    starting_balance: PositiveDecimal
    currency: str = "USD"
    limits: RiskLimits
    checked_on: date
    source: str
    firm: str = ""
    platform: str = ""
    automation_allowed: bool = Field(default=True, description="Whether the firm allows fully automated trading")
    automation_source: RuleSource | None = None
