"""Risk rules, table-driven: each passes, holds at its boundary, and fails with its reason code."""

from __future__ import annotations

from dataclasses import replace

import pytest
from tests.helpers import T0, D

from at_core.catalog import InstrumentCatalog
from at_core.events import RiskReasonCode as Code
from at_core.models.enums import OrderSide, OrderType, TradingState
from at_core.models.orders import OrderSpec
from at_core.models.risk import RiskLimits, RiskProfile
from at_exec_sim.domain.portfolio import Account
from at_exec_sim.domain.risk import RiskContext, check, in_session
from at_exec_sim.domain.rules import RuleState

CAT = InstrumentCatalog()


def ctx(
    limits: RiskLimits,
    *,
    instrument: str = "MES.CME",
    last: str | None = "5000",
    position: str = "0",
    state: TradingState = TradingState.ACTIVE,
    orders_last_minute: int = 0,
    stop: str | None = None,
) -> RiskContext:
    profile = RiskProfile(
        profile_id="t", version="1", starting_balance=D(50000), limits=limits, checked_on="2026-11-24", source="test"
    )
    account = Account("a", "USD", D(50000), D(50000))
    inst = CAT.get(instrument)
    if D(position):
        pos = account.position(inst)
        pos.quantity, pos.avg_price = D(position), D(last or 1)
    return RiskContext(
        now_ns=T0,
        account=account,
        profile=profile,
        instrument=inst,
        last_price=D(last) if last else None,
        trading_state=state,
        locked_until_ns=None,
        orders_last_minute=orders_last_minute,
        rules=RuleState(profile),
        equity=D(50000),
        stop_price=D(stop) if stop else None,
    )


def codes(order: OrderSpec, c: RiskContext) -> set[str]:
    return {r.code for r in check(order, c)[1]}


def buy(qty: str, **kw) -> OrderSpec:
    return OrderSpec(side=OrderSide.BUY, quantity=D(qty), **kw)


@pytest.mark.parametrize(
    ("limits", "qty", "expected"),
    [
        (RiskLimits(max_order_quantity=D(5)), "4", set()),
        (RiskLimits(max_order_quantity=D(5)), "5", set()),
        (RiskLimits(max_order_quantity=D(5)), "6", {Code.MAX_ORDER_QUANTITY}),
        (RiskLimits(max_position_per_instrument=D(3)), "3", set()),
        (RiskLimits(max_position_per_instrument=D(3)), "4", {Code.MAX_POSITION}),
        (RiskLimits(max_notional_per_order=D(50000)), "2", set()),  # 2 x 5000 x 5 = 50,000
        (RiskLimits(max_notional_per_order=D(50000)), "3", {Code.MAX_NOTIONAL}),
        (RiskLimits(max_total_position=D(1), count_micros_as_minis=True), "10", set()),  # 10 MES = 1 ES
        (RiskLimits(max_total_position=D(1), count_micros_as_minis=True), "11", {Code.MAX_TOTAL_POSITION}),
    ],
)
def test_size_limits(limits: RiskLimits, qty: str, expected: set) -> None:
    assert codes(buy(qty), ctx(limits)) == expected


@pytest.mark.parametrize(("limit_price", "expected"), [("5100", set()), ("5101", {Code.FAT_FINGER})])
def test_fat_finger_band_against_the_last_price(limit_price: str, expected: set) -> None:
    order = buy("1", order_type=OrderType.LIMIT, limit_price=D(limit_price))
    assert codes(order, ctx(RiskLimits(fat_finger_band_pct=D(2)))) == expected


def test_prices_and_quantities_are_rounded_to_the_grid() -> None:
    order, reasons = check(buy("1", order_type=OrderType.LIMIT, limit_price=D("5000.13")), ctx(RiskLimits()))
    assert order.limit_price == D("5000.25") and reasons == []


def test_no_market_price_fails_closed() -> None:
    assert Code.NO_MARKET_PRICE in codes(buy("1"), ctx(RiskLimits(), last=None))


def test_unknown_account_fails_closed() -> None:
    c = ctx(RiskLimits())
    assert {r.code for r in check(buy("1"), RiskContext(**{**c.__dict__, "account": None, "profile": None}))[1]} == {
        Code.UNKNOWN_ACCOUNT
    }


def test_reduce_only_must_not_grow_a_position() -> None:
    sell = OrderSpec(side=OrderSide.SELL, quantity=D(1), reduce_only=True)
    assert codes(sell, ctx(RiskLimits(), position="2")) == set()
    assert codes(buy("1", reduce_only=True), ctx(RiskLimits(), position="2")) == {Code.REDUCE_ONLY_WOULD_INCREASE}


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (TradingState.ACTIVE, set()),
        (TradingState.HALTED, {Code.TRADING_HALTED}),
        (TradingState.REDUCING, {Code.TRADING_REDUCING}),
    ],
)
def test_trading_state_gates_new_risk(state: TradingState, expected: set) -> None:
    assert codes(buy("1"), ctx(RiskLimits(), state=state)) == expected


def test_an_account_locked_after_a_session_cutoff_may_only_reduce_until_the_lock_ends() -> None:
    locked = ctx(RiskLimits(), state=TradingState.LOCKED_UNTIL, position="2")
    locked = replace(locked, locked_until_ns=T0 + 1)
    sell = OrderSpec(side=OrderSide.SELL, quantity=D(1))
    assert codes(buy("1"), locked) == {Code.TRADING_LOCKED}
    assert codes(sell, locked) == set()  # closing what the flatten could not
    assert codes(buy("1"), replace(locked, now_ns=T0 + 1)) == set()  # the lock's end: the session reopened


def test_order_rate_limit_boundary() -> None:
    assert codes(buy("1"), ctx(RiskLimits(max_orders_per_minute=3), orders_last_minute=2)) == set()
    assert codes(buy("1"), ctx(RiskLimits(max_orders_per_minute=3), orders_last_minute=3)) == {Code.ORDER_RATE}


def test_instrument_allowlist() -> None:
    assert codes(buy("1"), ctx(RiskLimits(instrument_allowlist=["ES.CME"]))) == {Code.INSTRUMENT_NOT_ALLOWED}


def test_crypto_min_notional() -> None:
    c = ctx(RiskLimits(), instrument="BTC/USDT:USDT.BINANCE", last="97000")
    assert codes(buy("0.002"), c) == set()  # 0.002 x 97,000 = 194 USDT >= 100
    assert codes(buy("0.001"), c) == {Code.NOTIONAL_BELOW_MIN}  # 97 USDT < 100


def test_projected_loss_at_the_stop_is_denied_before_it_can_breach_the_floor() -> None:
    from at_core.models.risk import StaticMaxLoss

    limits = RiskLimits(static_max_loss=StaticMaxLoss(amount=D(1000)))
    # 4 MES with a 40-point stop risk 4 x 40 x 5 = 800: allowed; 6 risk 1,200: denied
    assert codes(buy("4"), ctx(limits, stop="4960")) == set()
    assert codes(buy("6"), ctx(limits, stop="4960")) == {Code.STATIC_MAX_LOSS}


def test_sessions_that_cross_midnight() -> None:
    from datetime import time

    from at_core.models.risk import SessionWindow

    overnight = [SessionWindow(start=time(18), end=time(15, 10), timezone="America/Chicago", days=[0, 1, 2, 3, 4, 6])]
    assert in_session(overnight, T0)  # Wednesday 19:00 CT: the evening session is open
    assert not in_session(overnight, T0 - 3 * 3600 * 10**9)  # 16:00 CT: between the 15:10 close and the 18:00 open
    assert in_session(overnight, T0 + 12 * 3600 * 10**9)  # Thursday 07:00 CT
