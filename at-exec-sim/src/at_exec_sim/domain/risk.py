"""Pre-trade risk: every check as a pure function of the order and a snapshot of the account.

Fail closed: an unknown account or instrument, no last price, or a missing conversion rate
denies (a reduce-only close still passes a missing rate). Every denial has a machine-readable
code (``RiskReasonCode``) and a message a human can act on.

The projected loss at the stop is priced at the expected fill (the ask plus slippage for a market
buy, the bid less slippage for a sell, the limit price for a limit) and the stop's fill (the stop
less slippage for a long), with the fee of both sides, and converted to the account's currency.
A breach is strictly below a floor: equity exactly at the floor may still trade.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from at_core.catalog import Instrument
from at_core.events import RiskReason
from at_core.events import RiskReasonCode as Code
from at_core.markets.money import MissingRateError, convert
from at_core.models.enums import OrderSide, TradingState
from at_core.models.instruments import FutureContract
from at_core.models.orders import OrderSpec
from at_core.models.precision import Rounding
from at_core.models.risk import LossBasis, RiskProfile
from at_exec_sim.domain.bracket_risk import bracket_checks
from at_exec_sim.domain.expiry import utc_date
from at_exec_sim.domain.portfolio import Account
from at_exec_sim.domain.records import pnl_currency
from at_exec_sim.domain.rules import RuleState
from at_exec_sim.domain.sessions import in_session

__all__ = ["RiskContext", "check", "in_session"]


@dataclass(frozen=True)
class RiskContext:
    """What the risk engine knows at decision time."""

    now_ns: int
    account: Account | None
    profile: RiskProfile | None
    instrument: Instrument | None
    last_price: Decimal | None
    trading_state: TradingState
    locked_until_ns: int | None
    orders_last_minute: int
    rules: RuleState | None
    equity: Decimal | None
    stop_price: Decimal | None = None
    est_cost_per_unit: Decimal = Decimal(0)  # fee per unit and side, account currency
    bid: Decimal | None = None
    ask: Decimal | None = None
    slippage_per_unit: Decimal = Decimal(0)  # expected slippage per side, in price units
    rates: Mapping[str, Decimal] = field(default_factory=dict)  # "BASE/QUOTE" -> mid
    missing_rate: str | None = None  # the account cannot be valued: no rate for this conversion
    automated: bool | None = None  # the request came from automation (None: not known)
    venue: str | None = None  # where the account's orders go (a bracket needs a venue that places it)
    brackets_at_venue: bool = False  # exec-sim manages bracket children at that (external) venue


def _r(code: Code, message: str, limit: Decimal | None = None, value: Decimal | None = None) -> RiskReason:
    return RiskReason(code=code, message=message, limit=limit, value=value)


def _mini_weight(instrument: Instrument, count_micros: bool) -> Decimal:
    if count_micros and isinstance(instrument, FutureContract):
        return instrument.mini_equivalent
    return Decimal(1)


def check(order: OrderSpec, ctx: RiskContext) -> tuple[OrderSpec, list[RiskReason]]:
    """Round the order to the instrument's grid and run every check. Returns (order, reasons)."""
    if ctx.account is None or ctx.profile is None:
        return order, [_r(Code.UNKNOWN_ACCOUNT, "account not configured in exec-sim")]
    if ctx.instrument is None:
        return order, [_r(Code.UNKNOWN_INSTRUMENT, "instrument unknown to the catalog")]
    inst, limits, reasons = ctx.instrument, ctx.profile.limits, []
    state_reason = _state(order, ctx)
    if state_reason:
        reasons.append(state_reason)
    if limits.instrument_allowlist is not None and inst.instrument_id not in limits.instrument_allowlist:
        reasons.append(
            _r(Code.INSTRUMENT_NOT_ALLOWED, f"{inst.instrument_id} is not allowed on {ctx.profile.profile_id}")
        )
    elif limits.product_allowlist is not None and (
        not isinstance(inst, FutureContract) or inst.root not in limits.product_allowlist
    ):
        reasons.append(
            _r(
                Code.INSTRUMENT_NOT_ALLOWED,
                f"{inst.instrument_id} is not a product {ctx.profile.profile_id} lists "
                f"({', '.join(limits.product_allowlist)})",
            )
        )
    if (expired := _expired(inst, ctx.now_ns)) is not None and not _reduces(order, ctx):
        reasons.append(_r(Code.CONTRACT_EXPIRED, f"{inst.instrument_id} expired: its last trade date was {expired}"))
    if not ctx.profile.automation_allowed and ctx.automated and not _reduces(order, ctx):
        reasons.append(
            _r(
                Code.AUTOMATION_NOT_ALLOWED,
                f"{ctx.profile.firm or ctx.profile.profile_id} forbids fully automated trading",
            )
        )
    if ctx.missing_rate is not None and not _reduces(order, ctx):
        reasons.append(
            _r(Code.CONVERSION_RATE_MISSING, f"cannot value the account ({ctx.missing_rate}): only reducing orders")
        )
    if ctx.last_price is None:
        reasons.append(_r(Code.NO_MARKET_PRICE, f"no market price known for {inst.instrument_id}"))
    order, grid = _round(order, inst)
    reasons.extend(grid)
    # an entry's bracket: its actual stop prices the projected loss (not a proposal's hypothetical one)
    ctx, bracket_reasons = bracket_checks(order, ctx, expected_fill(order, ctx), _reduces(order, ctx))
    reasons.extend(bracket_reasons)
    qty = order.quantity
    if qty < inst.min_quantity:
        reasons.append(
            _r(Code.QUANTITY_BELOW_MIN, f"quantity below minimum {inst.min_quantity}", inst.min_quantity, qty)
        )
    if inst.max_quantity is not None and qty > inst.max_quantity:
        reasons.append(
            _r(Code.QUANTITY_ABOVE_MAX, f"quantity above maximum {inst.max_quantity}", inst.max_quantity, qty)
        )
    price = order.limit_price or order.stop_price or ctx.last_price
    if price is not None:
        notional = inst.notional(qty, price)
        if inst.min_notional is not None and notional < inst.min_notional:
            reasons.append(
                _r(
                    Code.NOTIONAL_BELOW_MIN,
                    f"notional {notional} below minimum {inst.min_notional}",
                    inst.min_notional,
                    notional,
                )
            )
        if limits.max_notional_per_order is not None and notional > limits.max_notional_per_order:
            reasons.append(
                _r(Code.MAX_NOTIONAL, "order notional above the account limit", limits.max_notional_per_order, notional)
            )
    if (
        ctx.last_price is not None
        and limits.fat_finger_band_pct is not None
        and (order.limit_price or order.stop_price)
    ):
        ref = order.limit_price or order.stop_price
        assert ref is not None
        away = abs(ref - ctx.last_price) / ctx.last_price * 100
        if away > limits.fat_finger_band_pct:
            reasons.append(
                _r(
                    Code.FAT_FINGER,
                    f"price {ref} is {away:.2f}% from last {ctx.last_price}",
                    limits.fat_finger_band_pct,
                    away,
                )
            )
    if limits.max_order_quantity is not None and qty > limits.max_order_quantity:
        reasons.append(
            _r(Code.MAX_ORDER_QUANTITY, "order quantity above the account limit", limits.max_order_quantity, qty)
        )
    reasons.extend(_position_checks(order, ctx))
    if limits.max_orders_per_minute is not None and ctx.orders_last_minute >= limits.max_orders_per_minute:
        reasons.append(_r(Code.ORDER_RATE, "too many orders in the last minute", Decimal(limits.max_orders_per_minute)))
    if not in_session(limits.sessions, ctx.now_ns) and not order.reduce_only:
        reasons.append(_r(Code.OUTSIDE_SESSION, "outside the account's trading session"))
    reasons.extend(_loss_checks(order, ctx))
    return order, reasons


def _expired(inst: Instrument, now_ns: int) -> date | None:
    """The last trade date of a dated future that is past it (UTC date), else None."""
    if isinstance(inst, FutureContract) and inst.expiry is not None and utc_date(now_ns) > inst.expiry:
        return inst.expiry
    return None


def _state(order: OrderSpec, ctx: RiskContext) -> RiskReason | None:
    if ctx.trading_state is TradingState.HALTED:
        return _r(Code.TRADING_HALTED, "trading is halted on this account")
    if (
        ctx.trading_state is TradingState.LOCKED_UNTIL
        and (ctx.locked_until_ns is None or ctx.now_ns < ctx.locked_until_ns)
        and not _reduces(order, ctx)
    ):
        # after a session cutoff: nothing opens until the session reopens; closing what is left may
        return _r(Code.TRADING_LOCKED, "account locked until the next session: only reducing orders")
    if ctx.trading_state is TradingState.REDUCING and not _reduces(order, ctx):
        return _r(Code.TRADING_REDUCING, "account may only reduce positions")
    return None


def _current(ctx: RiskContext) -> Decimal:
    assert ctx.account is not None and ctx.instrument is not None
    pos = ctx.account.positions.get(ctx.instrument.instrument_id)
    return pos.quantity if pos else Decimal(0)


def _reduces(order: OrderSpec, ctx: RiskContext) -> bool:
    current = _current(ctx)
    after = current + order.signed_quantity
    return current != 0 and abs(after) < abs(current) and (after == 0 or (after > 0) == (current > 0))


def _round(order: OrderSpec, inst: Instrument) -> tuple[OrderSpec, list[RiskReason]]:
    reasons = []
    qty = inst.round_quantity(order.quantity, Rounding.DOWN)
    if qty <= 0:
        reasons.append(_r(Code.QUANTITY_PRECISION, f"quantity rounds to 0 on a step of {inst.size_increment}"))
        qty = order.quantity
    update: dict = {"quantity": qty}
    for name in ("limit_price", "stop_price"):
        value = getattr(order, name)
        if value is not None:
            if value <= 0:
                reasons.append(_r(Code.PRICE_NOT_POSITIVE, f"{name} must be above zero"))
            else:
                update[name] = inst.round_price(value)
    return order.model_copy(update=update), reasons


def _position_checks(order: OrderSpec, ctx: RiskContext) -> list[RiskReason]:
    assert ctx.account is not None and ctx.instrument is not None and ctx.profile is not None
    limits, reasons = ctx.profile.limits, []
    current = _current(ctx)
    after = current + order.signed_quantity
    if order.reduce_only and not _reduces(order, ctx):
        reasons.append(
            _r(Code.REDUCE_ONLY_WOULD_INCREASE, f"reduce-only order would take the position from {current} to {after}")
        )
    if (
        limits.max_position_per_instrument is not None
        and abs(after) > limits.max_position_per_instrument
        and abs(after) > abs(current)
    ):
        reasons.append(
            _r(
                Code.MAX_POSITION,
                "position would exceed the per-instrument limit",
                limits.max_position_per_instrument,
                abs(after),
            )
        )
    total = Decimal(0)
    for pos in ctx.account.positions.values():
        if pos.instrument.instrument_id != ctx.instrument.instrument_id:
            total += abs(pos.quantity) * _mini_weight(pos.instrument, limits.count_micros_as_minis)
    total_after = total + abs(after) * _mini_weight(ctx.instrument, limits.count_micros_as_minis)
    if limits.scaling_plan is not None and ctx.rules is not None and abs(after) > abs(current):
        profit = ctx.rules.day_start_balance - ctx.profile.starting_balance
        allowed = limits.scaling_plan.max_contracts(profit)
        if total_after > allowed:
            reasons.append(
                _r(
                    Code.SCALING_PLAN,
                    f"the scaling plan allows {allowed} contracts at an end-of-day profit of {profit} "
                    f"(the position would be {total_after})",
                    allowed,
                    total_after,
                )
            )
    cap = limits.max_total_position
    if cap is not None and total_after > cap and abs(after) > abs(current):
        reasons.append(
            _r(
                Code.MAX_TOTAL_POSITION,
                "total position (in full-size equivalents) would exceed the limit",
                cap,
                total_after,
            )
        )
    return reasons


def _measured(ctx: RiskContext, rule: str) -> Decimal:
    """The value a rule compares with its floor: balance for a balance-basis daily loss, else equity."""
    assert ctx.equity is not None and ctx.account is not None and ctx.profile is not None
    dl = ctx.profile.limits.daily_loss
    if rule == "daily_loss" and dl is not None and dl.basis is LossBasis.BALANCE:
        return ctx.account.balance
    return ctx.equity


def expected_fill(order: OrderSpec, ctx: RiskContext) -> Decimal | None:
    """Where the order is expected to fill: its limit, else the far side of the book plus slippage."""
    if order.limit_price is not None:
        return order.limit_price
    buy = order.side is OrderSide.BUY
    touch = order.stop_price or (ctx.ask if buy else ctx.bid) or ctx.last_price
    if touch is None:
        return None
    return touch + ctx.slippage_per_unit if buy else touch - ctx.slippage_per_unit


def projected_loss(order: OrderSpec, ctx: RiskContext) -> Decimal | None:
    """The loss (account currency) if the order fills as expected and its stop then fills, fees of
    both sides included. None without a stop or a price.

    Raises:
        MissingRateError: the instrument's P&L currency cannot be converted.
    """
    assert ctx.instrument is not None and ctx.account is not None
    entry = expected_fill(order, ctx)
    if ctx.stop_price is None or entry is None:
        return None
    long = order.side is OrderSide.BUY
    exit_ = ctx.stop_price - ctx.slippage_per_unit if long else ctx.stop_price + ctx.slippage_per_unit
    loss = max(-ctx.instrument.pnl(order.signed_quantity, entry, exit_), Decimal(0))
    converted = convert(loss, pnl_currency(ctx.instrument), ctx.account.currency, ctx.rates)
    return converted + 2 * order.quantity * ctx.est_cost_per_unit


def _loss_checks(order: OrderSpec, ctx: RiskContext) -> list[RiskReason]:
    if ctx.rules is None or ctx.equity is None or ctx.account is None or ctx.instrument is None:
        return []
    reasons = []
    codes = {
        "daily_loss": (Code.DAILY_LOSS_LIMIT, Code.PROJECTED_DAILY_LOSS),
        "trailing_drawdown": (Code.TRAILING_DRAWDOWN, Code.PROJECTED_TRAILING_DRAWDOWN),
        "static_max_loss": (Code.STATIC_MAX_LOSS, Code.STATIC_MAX_LOSS),
    }
    reducing = _reduces(order, ctx)
    if reducing:
        return []
    try:
        loss = projected_loss(order, ctx)
    except MissingRateError as exc:
        return [_r(Code.CONVERSION_RATE_MISSING, f"cannot price the stop-out in {ctx.account.currency}: {exc}")]
    for rule, floor in ctx.rules.floors().items():
        breached, projected = codes[rule]
        value = _measured(ctx, rule)
        if value < floor:
            reasons.append(
                _r(breached, f"{rule.replace('_', ' ')} breached: {value} below floor {floor}", floor, value)
            )
            continue
        if loss is not None and value - loss < floor:
            reasons.append(
                _r(
                    projected,
                    f"a stop-out at {ctx.stop_price} (loss {loss:.2f} {ctx.account.currency} at the expected "
                    f"fills, with both sides' costs) would breach the {rule.replace('_', ' ')} floor {floor}",
                    floor,
                    value - loss,
                )
            )
    return reasons
