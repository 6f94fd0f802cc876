"""Funded accounts' scaling plans, the firms' automation rule and expired contracts, read as the
firm's rule with hand-worked numbers (issue 12).

Topstep XFA 50K: 2 contracts until the end-of-day profit is above 1,500, then 3; above 2,000, 5.
Apex PA 50K: 5 contracts until the end-of-day balance is above start + trailing 2,500 + 100 (a
profit above 2,600), then 10.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from tests.helpers import T0, D, engine, factory, proposal, quote
from tests.unit.test_prop_rules import PROFILES, buy, codes, ctx, sell

from at_core.clock import ManualClock
from at_core.events import ExecutionRequest, TradeProposalEvent
from at_core.events import RiskReasonCode as Code
from at_core.models.enums import OrderSide
from at_core.models.orders import OrderSpec
from at_exec_sim.domain.decisions import automated
from at_exec_sim.domain.expiry import warning_message
from at_exec_sim.domain.rules import RuleState

DAY = 24 * 3600 * 10**9


def rules_after_a_day_ending_at(profile_id: str, balance: str) -> RuleState:
    """The rule state on the trading day after one that closed at ``balance``."""
    state = RuleState(PROFILES[profile_id])
    state.update(T0 - DAY, state.profile.starting_balance, state.profile.starting_balance)
    state.update(T0, D(balance), D(balance))  # the next trading day: its start is the close
    return state


@pytest.mark.parametrize(
    ("balance", "allowed"),
    [
        ("50000", 2),
        ("51500", 2),  # exactly 1,500 of profit: not above the tier
        ("51500.01", 3),
        ("52000", 3),
        ("52000.01", 5),
        ("49000", 2),  # a loss: the base
    ],
)
def test_topstepx_xfa_50k_contract_limit_follows_the_end_of_day_profit(balance: str, allowed: int) -> None:
    p = PROFILES["topstepx_xfa_50k"]
    state = rules_after_a_day_ending_at("topstepx_xfa_50k", balance)
    c = ctx(p, "ES.CME", bid="5000.00", ask="5000.25", balance=balance, rules=state)
    assert Code.SCALING_PLAN not in codes(buy(str(allowed)), c)
    over = check_reasons(buy(str(allowed + 1)), c)
    assert over == [(D(allowed), D(allowed + 1))]


def check_reasons(order: OrderSpec, c) -> list[tuple]:  # type: ignore[no-untyped-def]
    from at_exec_sim.domain.risk import check

    return [(r.limit, r.value) for r in check(order, c)[1] if r.code == Code.SCALING_PLAN]


def test_profit_made_today_does_not_raise_the_limit_until_the_next_trading_day() -> None:
    p = PROFILES["topstepx_xfa_50k"]
    state = rules_after_a_day_ending_at("topstepx_xfa_50k", "50000")
    state.update(T0 + 3600 * 10**9, D(53000), D(53000))  # +3,000 intraday, same trading day
    c = ctx(p, "ES.CME", bid="5000.00", ask="5000.25", balance="53000", rules=state)
    assert Code.SCALING_PLAN in codes(buy("3"), c)  # still 2 today
    state.update(T0 + DAY, D(53000), D(53000))  # the next trading day starts at 53,000
    assert Code.SCALING_PLAN not in codes(buy("5"), replace(c, rules=state))


def test_topstepx_counts_ten_micros_as_one_mini_in_the_scaling_plan_and_classic_counts_one() -> None:
    x = ctx(PROFILES["topstepx_xfa_50k"], "MES.CME", bid="5000.00", ask="5000.25")
    assert Code.SCALING_PLAN not in codes(buy("20"), x)  # 20 micros = 2 minis
    assert Code.SCALING_PLAN in codes(buy("21"), x)
    classic = ctx(PROFILES["topstep_xfa_50k"], "MES.CME", bid="5000.00", ask="5000.25")
    assert Code.SCALING_PLAN in codes(buy("3"), classic)  # a micro is a full lot on Topstep's page


def test_a_position_above_the_plan_after_a_losing_day_may_still_be_reduced() -> None:
    p = PROFILES["topstepx_xfa_100k"]
    state = rules_after_a_day_ending_at("topstepx_xfa_100k", "103000.01")  # 10 allowed yesterday
    state.update(T0 + DAY, D(101000), D(101000))  # then a losing day: 1,000 of profit, 3 allowed
    c = ctx(p, "ES.CME", bid="5000.00", ask="5000.25", position="6", balance="101000", rules=state)
    assert Code.SCALING_PLAN not in codes(sell("1"), c)
    assert Code.SCALING_PLAN in codes(buy("1"), c)


def test_topstepx_xfa_150k_tiers_worked_by_hand() -> None:
    plan = PROFILES["topstepx_xfa_150k"].limits.scaling_plan
    assert plan is not None
    got = [plan.max_contracts(D(p)) for p in ("0", "1500.01", "2000.01", "3000.01", "4500", "4500.01")]
    assert got == [D(3), D(4), D(5), D(10), D(10), D(15)]


@pytest.mark.parametrize(("balance", "allowed"), [("52600", 5), ("52600.01", 10)])
def test_apex_pa_50k_trades_half_its_contracts_until_the_balance_is_above_the_threshold_plus_100(
    balance: str, allowed: int
) -> None:
    p = PROFILES["apex_pa_50k"]
    state = rules_after_a_day_ending_at("apex_pa_50k", balance)
    c = ctx(p, "ES.CME", bid="5000.00", ask="5000.25", balance=balance, rules=state)
    assert Code.SCALING_PLAN not in codes(buy(str(allowed)), c)
    assert Code.SCALING_PLAN in codes(buy(str(allowed + 1)), c) or Code.MAX_TOTAL_POSITION in codes(
        buy(str(allowed + 1)), c
    )


@pytest.mark.parametrize("size", ["25k", "50k", "100k", "150k"])
def test_every_apex_pa_plan_starts_at_half_the_account_limit(size: str) -> None:
    p = PROFILES[f"apex_pa_{size}"]
    plan, cap = p.limits.scaling_plan, p.limits.max_total_position
    assert plan is not None and cap is not None
    assert plan.base_contracts == (cap / 2).to_integral_value(rounding="ROUND_DOWN")
    assert plan.max_contracts(D(10**6)) == cap
    assert plan.source is not None and plan.source.assumption  # third-party only: marked so


def test_combine_profiles_have_no_scaling_plan() -> None:
    assert PROFILES["topstep_50k"].limits.scaling_plan is None and PROFILES["apex_50k"].limits.scaling_plan is None


# --- automation ---------------------------------------------------------------------------------


def test_an_agents_proposal_is_automated_and_an_operators_order_is_not() -> None:
    f = factory()
    prop = proposal(f, "apex-50k-1", "MES.CME", OrderSide.BUY, "1")
    assert isinstance(prop, TradeProposalEvent) and prop.automated is True and automated(prop)
    manual = f.make(
        ExecutionRequest,
        account_id="apex-50k-1",
        instrument_id="MES.CME",
        order=OrderSpec(side=OrderSide.BUY, quantity=D(1)),
        requested_by="ops",
    )
    assert automated(manual) is False


def test_apex_denies_an_agents_entry_and_takes_an_operators_order() -> None:
    eng, f = engine(), factory()
    eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.25"))
    out = eng.on_proposal(proposal(f, "apex-50k-1", "MES.CME", OrderSide.BUY, "1"))
    decision = next(e for e in out if e.event_type == "risk_decision")
    assert not decision.approved and Code.AUTOMATION_NOT_ALLOWED in {r.code for r in decision.reasons}
    manual = f.make(
        ExecutionRequest,
        account_id="apex-50k-1",
        instrument_id="MES.CME",
        order=OrderSpec(side=OrderSide.BUY, quantity=D(1)),
        requested_by="ops",
    )
    decision = next(e for e in eng.on_execution_request(manual) if e.event_type == "risk_decision")
    assert Code.AUTOMATION_NOT_ALLOWED not in {r.code for r in decision.reasons}


def test_topstep_takes_an_agents_entry() -> None:
    eng, f = engine(), factory()
    eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.25"))
    out = eng.on_proposal(proposal(f, "topstep-50k-1", "MES.CME", OrderSide.BUY, "1"))
    decision = next(e for e in out if e.event_type == "risk_decision")
    assert Code.AUTOMATION_NOT_ALLOWED not in {r.code for r in decision.reasons}


# --- expired contracts; no auto-roll ---------------------------------------------------------------


def test_an_expired_contract_is_refused_and_a_close_of_it_passes() -> None:
    after = int(datetime(2025, 12, 22, 15, 0, tzinfo=UTC).timestamp()) * 10**9  # ESZ2025 last traded 12-19
    c = replace(ctx(PROFILES["retail"], "ESZ2025.CME", bid="5000.00", ask="5000.25"), now_ns=after)
    assert Code.CONTRACT_EXPIRED in codes(buy("1"), c)
    held = replace(ctx(PROFILES["retail"], "ESZ2025.CME", bid="5000.00", ask="5000.25", position="1"), now_ns=after)
    assert Code.CONTRACT_EXPIRED not in codes(sell("1", reduce_only=True), held)
    on_last_day = replace(c, now_ns=int(datetime(2025, 12, 19, 14, 0, tzinfo=UTC).timestamp()) * 10**9)
    assert Code.CONTRACT_EXPIRED not in codes(buy("1"), on_last_day)  # the last trade date still trades


def test_a_held_contract_is_not_rolled_past_its_roll_date_and_the_warning_says_so() -> None:
    roll_day = int(datetime(2026, 12, 15, 15, 0, tzinfo=UTC).timestamp()) * 10**9  # after MESZ2026's roll (12-10)
    clock = ManualClock(roll_day)
    eng, f = engine(clock=clock), factory(roll_day)
    eng.on_market_data(quote(f, "MESZ2026.CME", "5000.00", "5000.25"))
    eng.on_proposal(proposal(f, "paper-1", "MESZ2026.CME", OrderSide.BUY, "2"))
    out = eng.on_market_data(quote(factory(roll_day + 1), "MESZ2026.CME", "5001.00", "5001.25"))
    positions = eng.accounts["paper-1"].account.positions
    assert positions["MESZ2026.CME"].quantity == D(2) and "MESH2027.CME" not in positions
    warnings = [e for e in out if e.event_type == "contract_expiry_warning"]
    assert warnings and "does not roll" in warnings[0].message
    assert "auto-roll is not offered" in warning_message("MESZ2026.CME", warnings[0].last_trade, 3)


# --- the profiles table of docs/RISK_RULES.md ------------------------------------------------------


def test_the_risk_rules_table_shows_every_shipped_profile_as_it_is() -> None:
    from pathlib import Path

    from tests.profile_table import table

    doc = (Path(__file__).parents[2] / "docs" / "RISK_RULES.md").read_text()
    assert table() in doc, "docs/RISK_RULES.md is out of date: python -m tests.profile_table prints the table"
