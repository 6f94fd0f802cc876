"""Prop-firm rules to the letter: each defect of issue 12 as a reference case worked by hand.

Times: T0 = 2026-11-19T01:00Z (Wednesday 19:00 CST, Thursday 02:00 in Prague).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers import T0, D

from at_core.catalog import InstrumentCatalog
from at_core.events import RiskReasonCode as Code
from at_core.models.enums import OrderSide, TradingState
from at_core.models.orders import OrderSpec
from at_core.models.risk import RiskProfile
from at_exec_sim.domain.accounts import load_profiles
from at_exec_sim.domain.portfolio import Account
from at_exec_sim.domain.risk import RiskContext, check, projected_loss
from at_exec_sim.domain.rules import RuleState

CAT = InstrumentCatalog()
PROFILES = load_profiles()
HOUR = 3600 * 10**9


def prague_ns(y: int, m: int, d: int, h: int, mi: int = 0) -> int:
    from zoneinfo import ZoneInfo

    return int(datetime(y, m, d, h, mi, tzinfo=ZoneInfo("Europe/Prague")).timestamp()) * 10**9


def ctx(
    profile: RiskProfile,
    instrument: str,
    *,
    equity: str | None = None,
    balance: str | None = None,
    position: str = "0",
    bid: str | None = None,
    ask: str | None = None,
    stop: str | None = None,
    rates: dict[str, Decimal] | None = None,
    fee: str = "0",
    slippage: str = "0",
    missing_rate: str | None = None,
    automated: bool | None = None,
    rules: RuleState | None = None,
) -> RiskContext:
    start = profile.starting_balance
    account = Account("a", profile.currency, start, D(balance) if balance else start)
    inst = CAT.get(instrument)
    mid = (D(bid) + D(ask)) / 2 if bid and ask else None
    if D(position):
        pos = account.position(inst)
        pos.quantity, pos.avg_price = D(position), mid or D(1)
    return RiskContext(
        now_ns=T0,
        account=account,
        profile=profile,
        instrument=inst,
        last_price=mid,
        trading_state=TradingState.ACTIVE,
        locked_until_ns=None,
        orders_last_minute=0,
        rules=rules or RuleState(profile),
        equity=D(equity) if equity else account.balance,
        stop_price=D(stop) if stop else None,
        est_cost_per_unit=D(fee),
        bid=D(bid) if bid else None,
        ask=D(ask) if ask else None,
        slippage_per_unit=D(slippage),
        rates=rates or {},
        missing_rate=missing_rate,
        automated=automated,
    )


def codes(order: OrderSpec, c: RiskContext) -> set[str]:
    return {r.code for r in check(order, c)[1]}


def buy(qty: str, **kw) -> OrderSpec:
    return OrderSpec(side=OrderSide.BUY, quantity=D(qty), **kw)


def sell(qty: str, **kw) -> OrderSpec:
    return OrderSpec(side=OrderSide.SELL, quantity=D(qty), **kw)


# --- FTMO: reference = balance at the previous midnight (Prague), measured on equity ------------


def test_ftmo_daily_floor_is_the_midnight_balance_less_5_percent_even_with_a_position_over_midnight() -> None:
    rules = RuleState(PROFILES["ftmo_100k"])
    rules.update(prague_ns(2026, 11, 18, 23, 0), D(100000), D(100000))
    # a position held over midnight: balance 100,000, equity 99,000 (1,000 open loss) at the reset
    rules.update(prague_ns(2026, 11, 19, 0, 1), D(100000), D(99000))
    assert rules.daily_floor() == D(95000)  # the firm's floor; taking equity at midnight gave 94,000
    assert rules.breaches(D(100000), D(95500)) == []
    assert rules.breaches(D(100000), D("94999.99")) == ["daily_loss"]  # measured on equity (open P&L)


def test_ftmo_daily_reset_follows_prague_midnight_through_the_october_dst_week() -> None:
    # Prague left summer time on 2026-10-25, Chicago on 2026-11-01: midnight Prague is 23:00Z that week
    rules = RuleState(PROFILES["ftmo_100k"])
    rules.update(prague_ns(2026, 10, 27, 23, 59), D(100000), D(100000))
    rules.update(prague_ns(2026, 10, 28, 0, 0), D(101000), D(101000))
    assert rules.daily_floor() == D(96000)
    assert rules.day is not None and rules.day.isoformat() == "2026-10-28"


# --- equity exactly at the floor is not a breach ---------------------------------------------------


def test_equity_exactly_at_the_floor_is_not_a_breach() -> None:
    rules = RuleState(PROFILES["topstep_50k"])
    rules.update(T0, D(50000), D(50000))
    assert rules.breaches(D(49000), D(49000)) == []  # "below" the floor, not at it
    assert rules.breaches(D(49000), D("48999.99")) == ["daily_loss"]
    at_floor = ctx(PROFILES["topstep_50k"], "MES.CME", equity="49000", bid="5000.00", ask="5000.25")
    assert Code.DAILY_LOSS_LIMIT not in codes(buy("1"), at_floor)


# --- projected loss at the stop: expected fill, both sides' costs -------------------------------------


def test_projected_loss_is_priced_at_the_ask_with_both_sides_costs_and_a_breaching_stop_out_is_denied() -> None:
    # MES, 5 $/point: buy 5 at the ask 5001.00 (mid 5000.50), stop 4961.00 with 0.25 slippage each side:
    # entry 5001.25, exit 4960.75 = 40.5 points x 5 x 5 = 1,012.50 + fee 1.00 x 5 x 2 = 1,022.50 > 1,000
    c = ctx(
        PROFILES["topstep_50k"], "MES.CME", bid="5000.00", ask="5001.00", stop="4961.00", fee="1.00", slippage="0.25"
    )
    assert projected_loss(buy("5"), c) == D("1022.50")
    assert Code.PROJECTED_DAILY_LOSS in codes(buy("5"), c)  # from the mid with one side's costs: 985.00, approved


def test_a_sell_is_priced_at_the_bid_less_slippage() -> None:
    c = ctx(PROFILES["topstep_50k"], "MES.CME", bid="5000.00", ask="5001.00", stop="5010.00", slippage="0.25")
    assert projected_loss(sell("1"), c) == D("52.50")  # entry 4999.75, exit 5010.25: 10.5 points x 5


def test_usd_jpy_projected_loss_is_converted_to_the_account_currency() -> None:
    # 100,000 USD/JPY at 150.00, stop 149.50: 50,000 JPY = 333.33 USD, far inside FTMO's 5,000 daily room
    c = ctx(PROFILES["ftmo_100k"], "USD/JPY.FX", bid="149.99", ask="150.01", stop="149.51", rates={"USD/JPY": D(150)})
    loss = projected_loss(buy("100000"), c)
    assert loss is not None and loss.quantize(D("0.01")) == D("333.33")  # (150.01 - 149.51) x 100,000 / 150
    assert codes(buy("100000"), c) == set()  # was denied as a "loss 50000" (yen read as dollars)


# --- a missing conversion rate fails closed ----------------------------------------------------------


def test_a_missing_rate_denies_new_risk_but_allows_a_reduce_only_close() -> None:
    c = ctx(
        PROFILES["ftmo_100k"],
        "EUR/GBP.FX",
        bid="0.8500",
        ask="0.8501",
        position="100000",
        missing_rate="no GBP->USD rate known",
    )
    assert Code.CONVERSION_RATE_MISSING in codes(buy("10000"), c)
    assert codes(sell("100000", reduce_only=True), c) == set()


def test_a_stop_out_that_cannot_be_converted_is_denied_not_read_as_dollars() -> None:
    c = ctx(PROFILES["ftmo_100k"], "EUR/GBP.FX", bid="0.8500", ask="0.8501", stop="0.8450")
    assert Code.CONVERSION_RATE_MISSING in codes(buy("100000"), c)


# --- micro counting: TopstepX 10 micros = 1 mini, elsewhere a micro is a contract ---------------------


def test_topstepx_counts_ten_micros_as_one_mini() -> None:
    c = ctx(PROFILES["topstepx_50k"], "MES.CME", bid="5000.00", ask="5000.25")
    assert Code.MAX_TOTAL_POSITION not in codes(buy("50"), c)  # 50 micros = 5 minis: the limit
    assert Code.MAX_TOTAL_POSITION in codes(buy("51"), c)


def test_topstep_on_other_platforms_counts_a_micro_as_a_full_contract() -> None:
    c = ctx(PROFILES["topstep_50k"], "MES.CME", bid="5000.00", ask="5000.25")
    assert Code.MAX_TOTAL_POSITION not in codes(buy("5"), c)
    assert Code.MAX_TOTAL_POSITION in codes(buy("6"), c)


def test_topstepx_has_no_daily_loss_limit_and_classic_does() -> None:
    assert PROFILES["topstepx_50k"].limits.daily_loss is None
    assert PROFILES["topstep_50k"].limits.daily_loss is not None


# --- instrument allowlist: a futures account trades only the firm's products ---------------------------


@pytest.mark.parametrize("profile", ["topstep_50k", "topstepx_100k", "apex_50k", "apex_eod_50k"])
@pytest.mark.parametrize("instrument", ["BTC/USDT.BINANCE", "EUR/USD.FX"])
def test_futures_profiles_deny_what_the_firm_does_not_list(profile: str, instrument: str) -> None:
    c = ctx(PROFILES[profile], instrument, bid="1.0800", ask="1.0801")
    assert Code.INSTRUMENT_NOT_ALLOWED in codes(buy("1"), c)


def test_a_listed_product_in_a_dated_month_is_allowed() -> None:
    c = ctx(PROFILES["topstep_50k"], "MESZ2026.CME", bid="5000.00", ask="5000.25")
    assert Code.INSTRUMENT_NOT_ALLOWED not in codes(buy("1"), c)


# --- automation flag -----------------------------------------------------------------------------------


def test_a_firm_that_forbids_full_automation_denies_an_automated_entry() -> None:
    apex = PROFILES["apex_50k"]
    assert apex.automation_allowed is False
    c = ctx(apex, "MES.CME", bid="5000.00", ask="5000.25", automated=True)
    assert Code.AUTOMATION_NOT_ALLOWED in codes(buy("1"), c)
    assert Code.AUTOMATION_NOT_ALLOWED not in codes(buy("1"), replace(c, automated=False))


# --- profiles as data: sources, assumptions, versions -------------------------------------------------


@pytest.mark.parametrize("profile_id", sorted(PROFILES))
def test_every_prop_rule_names_its_source_and_the_date_it_was_checked(profile_id: str) -> None:
    p = PROFILES[profile_id]
    assert p.version and p.source and p.checked_on
    limits = p.limits
    for rule in (limits.daily_loss, limits.trailing_drawdown, limits.static_max_loss):
        if rule is not None and p.firm:
            assert rule.source is not None and rule.source.source.startswith("https://")
            assert rule.source.checked_on is not None
    if p.firm:
        assert p.automation_source is not None


def test_rules_the_firm_does_not_publish_where_we_read_them_are_marked_assumptions() -> None:
    ftmo = PROFILES["ftmo_100k"].limits.daily_loss
    assert ftmo is not None and ftmo.source is not None and not ftmo.source.assumption  # read on ftmo's page
    apex = PROFILES["apex_50k"].limits.trailing_drawdown
    assert apex is not None and apex.source is not None and apex.source.assumption


# --- properties ---------------------------------------------------------------------------------------

amounts = st.decimals(min_value=-20000, max_value=20000, places=2, allow_nan=False, allow_infinity=False)
TRAILING = ["topstep_50k", "apex_50k", "apex_eod_50k", "ftmo_100k", "topstepx_150k"]


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(TRAILING),
    st.lists(st.tuples(st.integers(0, 40), amounts, amounts), min_size=1, max_size=25),
)
def test_a_trailing_floor_never_moves_down(profile_id: str, steps: list[tuple[int, Decimal, Decimal]]) -> None:
    p = PROFILES[profile_id]
    rules = RuleState(p)
    t, last = T0, None
    for hours, realized, unrealized in steps:
        t += hours * HOUR
        balance = p.starting_balance + realized
        rules.update(t, balance, balance + unrealized)
        floor = rules.trailing_floor() if p.limits.trailing_drawdown else rules.static_floor()
        assert floor is not None
        if last is not None:
            assert floor >= last
        last = floor


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(sorted(PROFILES)), amounts, amounts)
def test_equity_at_or_above_every_floor_never_breaches(profile_id: str, realized: Decimal, open_pnl: Decimal) -> None:
    p = PROFILES[profile_id]
    rules = RuleState(p)
    balance = p.starting_balance + realized
    rules.update(T0, balance, balance + open_pnl)
    floors = rules.floors()
    equity = max([balance + open_pnl, *floors.values()])
    measured_balance = max([balance, *floors.values()])
    assert rules.breaches(measured_balance, equity) == []


@settings(max_examples=80, deadline=None)
@given(
    st.sampled_from(["topstep_50k", "apex_50k", "ftmo_100k", "crypto"]),
    st.decimals(min_value="0.01", max_value=5000, places=2),
)
def test_a_breach_always_halts_new_risk(profile_id: str, below: Decimal) -> None:
    p = PROFILES[profile_id]
    instrument = {"ftmo_100k": "EUR/USD.FX", "crypto": "BTC/USDT.BINANCE"}.get(profile_id, "MES.CME")
    rules = RuleState(p)
    rules.update(T0, p.starting_balance, p.starting_balance)
    floor = max(rules.floors().values())
    c = ctx(
        p, instrument, balance=str(floor - below), equity=str(floor - below), bid="1.0800", ask="1.0801", rules=rules
    )
    breach_codes = {Code.DAILY_LOSS_LIMIT, Code.TRAILING_DRAWDOWN, Code.STATIC_MAX_LOSS}
    assert rules.breaches(floor - below, floor - below)
    assert codes(buy("1"), c) & breach_codes


def test_t0_is_what_the_cases_say() -> None:
    assert datetime.fromtimestamp(T0 / 1e9, UTC).isoformat() == "2026-11-19T01:00:00+00:00"


# --- a missing rate holds the P&L in its own currency and books it when a rate arrives ----------------


def test_eur_gbp_pnl_without_a_gbp_usd_rate_is_held_not_booked_as_zero_and_booked_when_the_rate_arrives() -> None:
    from tests.helpers import engine, factory, proposal, quote

    eng, f = engine(), factory()
    ftmo = "ftmo-100k-1"
    eng.on_market_data(quote(f, "GBP/USD.FX", "1.2700", "1.2700"))
    eng.on_market_data(quote(f, "EUR/GBP.FX", "0.8500", "0.8501"))
    assert eng.on_proposal(proposal(f, ftmo, "EUR/GBP.FX", OrderSide.BUY, "100000"))[0].approved
    del eng.rates["GBP/USD"]  # the rate is unknown again (as after a restart that recovered no GBP quote)
    eng.on_market_data(quote(f, "EUR/GBP.FX", "0.8600", "0.8601"))
    rt = eng.accounts[ftmo]
    start = rt.account.balance
    denied = eng.on_proposal(proposal(f, ftmo, "EUR/GBP.FX", OrderSide.BUY, "1000"))[0]
    assert not denied.approved and Code.CONVERSION_RATE_MISSING in {r.code for r in denied.reasons}
    close = eng.on_proposal(proposal(f, ftmo, "EUR/GBP.FX", OrderSide.SELL, "100000"))[0]
    assert close.approved  # a close always passes
    assert rt.account.unbooked == {"GBP": D("990.0000")}  # (0.8600 - 0.8501) x 100,000
    assert rt.account.balance == start  # nothing booked as zero, nothing lost
    eng.on_market_data(quote(f, "GBP/USD.FX", "1.2700", "1.2700"))
    assert rt.account.unbooked == {}
    assert rt.account.balance == start + D("1257.30")  # 990 GBP x 1.27


# --- contract months: warn before a held contract's last trade; months never net ----------------------


def test_a_held_contract_is_warned_about_once_a_day_within_the_configured_days_of_its_last_trade() -> None:
    from tests.helpers import engine, factory, proposal, quote

    from at_core.clock import ManualClock

    day = int(datetime(2026, 12, 14, 15, 0, tzinfo=UTC).timestamp()) * 10**9  # Monday, 4 days before
    clock = ManualClock(day)
    eng, f = engine(clock=clock), factory(day)
    eng.on_market_data(quote(f, "MESZ2026.CME", "5000.00", "5000.25"))
    eng.on_proposal(proposal(f, "paper-1", "MESZ2026.CME", OrderSide.BUY, "2"))
    quiet = eng.on_market_data(quote(f, "MESZ2026.CME", "5001.00", "5001.25"))
    assert "contract_expiry_warning" not in [e.event_type for e in quiet]  # 4 days out: more than 3
    clock.set(day + 24 * HOUR)  # Tuesday: 3 days before the 18th
    out = eng.on_market_data(quote(factory(clock.now_ns()), "MESZ2026.CME", "5001.00", "5001.25"))
    warnings = [e for e in out if e.event_type == "contract_expiry_warning"]
    assert len(warnings) == 1
    w = warnings[0]
    assert (w.account_id, w.instrument_id, w.days_left, w.quantity) == ("paper-1", "MESZ2026.CME", 3, D(2))
    assert w.last_trade.isoformat() == "2026-12-18"
    again = eng.on_market_data(quote(factory(clock.now_ns()), "MESZ2026.CME", "5002.00", "5002.25"))
    assert "contract_expiry_warning" not in [e.event_type for e in again]  # once a day


def test_front_and_next_month_positions_are_kept_apart() -> None:
    from tests.helpers import engine, factory, proposal, quote

    eng, f = engine(), factory()
    for inst in ("MESZ2026.CME", "MESH2027.CME"):
        eng.on_market_data(quote(f, inst, "5000.00", "5000.25"))
    eng.on_proposal(proposal(f, "paper-1", "MESZ2026.CME", OrderSide.BUY, "2"))
    eng.on_proposal(proposal(f, "paper-1", "MESH2027.CME", OrderSide.SELL, "2"))
    positions = eng.accounts["paper-1"].account.positions
    assert positions["MESZ2026.CME"].quantity == D(2) and positions["MESH2027.CME"].quantity == D(-2)  # not netted
