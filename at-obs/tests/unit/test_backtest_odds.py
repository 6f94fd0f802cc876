"""The challenge, day by day, and its odds by bootstrap, against answers known in closed form."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from at_obs.backtest.challenge import (
    DAILY_LOSS,
    PASSED,
    RUNNING,
    TIME_LIMIT,
    TRAILING_DRAWDOWN,
    ChallengeRules,
    RulesError,
    run_challenge,
)
from at_obs.backtest.montecarlo import monte_carlo, wilson

K = 100  # cents per dollar
TOPSTEP = ChallengeRules(
    starting_balance=50_000 * K,
    profit_target=3_000 * K,
    trailing_drawdown=2_000 * K,
    trailing_lock_offset=0,
    daily_loss_limit=1_000 * K,
    min_days=2,
)


def test_a_pass_on_the_last_allowed_day() -> None:
    rules = ChallengeRules.from_mapping({"max_days": 5}, TOPSTEP)
    outcome = run_challenge([500 * K, 500 * K, 500 * K, 500 * K, 1_000 * K], rules)
    assert (outcome.status, outcome.day, outcome.balance) == (PASSED, 5, 53_000 * K)


def test_the_target_before_the_minimum_days_waits_for_them() -> None:
    rules = ChallengeRules.from_mapping({"min_days": 3}, TOPSTEP)
    assert run_challenge([3_000 * K, 0, 0, 0], rules).day == 3


def test_a_fail_by_the_trailing_drawdown_after_its_lock() -> None:
    # +2,500 lifts the floor from 48,000 to 50,000 (the lock: it would trail to 50,500); the
    # balance then falls to 50,000 over three days that each lose less than the daily limit
    outcome = run_challenge([2_500 * K, -900 * K, -900 * K, -700 * K], TOPSTEP)
    assert (outcome.status, outcome.day, outcome.floor) == (TRAILING_DRAWDOWN, 4, 50_000 * K)


def test_without_a_lock_the_floor_keeps_trailing() -> None:
    rules = ChallengeRules.from_mapping({"trailing_lock_offset": None, "profit_target": 10_000}, TOPSTEP)
    outcome = run_challenge([2_500 * K, 0, -900 * K, -900 * K, -900 * K], rules)
    assert (outcome.status, outcome.day, outcome.floor) == (TRAILING_DRAWDOWN, 5, 50_500 * K)


def test_a_day_losing_the_daily_limit_fails_even_above_the_floor() -> None:
    outcome = run_challenge([1_500 * K, -1_000 * K], TOPSTEP)
    assert (outcome.status, outcome.day) == (DAILY_LOSS, 2)


def test_a_soft_breach_day_does_not_fail_a_topstep_combine() -> None:
    # Topstep's daily loss limit halts the day; the combine goes on and passes on day 4
    soft = ChallengeRules.from_mapping({"daily_loss_soft": True}, TOPSTEP)
    days = [1_500 * K, -1_100 * K, 1_400 * K, 1_300 * K]
    assert run_challenge(days, TOPSTEP).status == DAILY_LOSS
    outcome = run_challenge(days, soft)
    assert (outcome.status, outcome.day, outcome.balance) == (PASSED, 4, 53_100 * K)
    with pytest.raises(RulesError, match="true or false"):
        ChallengeRules.from_mapping({"daily_loss_soft": "yes"}, TOPSTEP)


def test_no_pass_within_max_days_is_a_time_limit_and_a_short_path_is_running() -> None:
    rules = ChallengeRules.from_mapping({"max_days": 3}, TOPSTEP)
    assert run_challenge([100 * K] * 5, rules).status == TIME_LIMIT
    assert run_challenge([100 * K] * 2, TOPSTEP).status == RUNNING


def test_rules_read_from_an_exec_sim_profile_mapping() -> None:
    profile = {
        "starting_balance": "50000",
        "limits": {
            "daily_loss": {"amount": "1000"},
            "trailing_drawdown": {"amount": "2000", "stop_trailing_at_offset": "0"},
        },
    }
    rules = ChallengeRules.from_exec_sim_profile(profile, Decimal(3000))
    assert rules == ChallengeRules(5_000_000, 300_000, 200_000, 0, 100_000)


@pytest.mark.parametrize(
    ("mapping", "words"),
    [
        ({"profit_target": 0}, "greater than zero"),
        ({"daily_loss": 5}, "unknown challenge rule"),
        ({"min_days": 5, "max_days": 2}, "min_days <= max_days"),
        ({"trailing_drawdown": "lots"}, "bad challenge rule value"),
    ],
)
def test_bad_rules_are_refused_with_the_reason(mapping: dict[str, object], words: str) -> None:
    with pytest.raises(RulesError, match=words):
        ChallengeRules.from_mapping(mapping, TOPSTEP)


def test_a_strategy_that_always_wins_passes_with_probability_one() -> None:
    odds = monte_carlo(TOPSTEP, random.Random(1), runs=2_000, daily_pnl=[400 * K, 700 * K, 250 * K])
    assert odds.passed.hits == 2_000
    assert odds.passed.low > 0.998
    assert all(p.hits == 0 for p in odds.failed.values())
    assert odds.days_to_pass_p10 is not None and odds.days_to_pass_p90 is not None
    assert 5 <= odds.days_to_pass_p10 <= odds.days_to_pass_median <= odds.days_to_pass_p90 <= 12  # type: ignore[operator]


def test_a_strategy_that_always_loses_fails_by_the_trailing_drawdown() -> None:
    odds = monte_carlo(TOPSTEP, random.Random(1), runs=500, daily_pnl=[-300 * K])
    assert odds.failed[TRAILING_DRAWDOWN].hits == 500
    assert odds.days_to_pass_median is None


def test_the_same_seed_gives_the_same_odds_and_another_seed_other_draws() -> None:
    days = [800 * K, -700 * K, 300 * K, -200 * K]
    a = monte_carlo(TOPSTEP, random.Random(42), runs=3_000, daily_pnl=days, seed=42)
    b = monte_carlo(TOPSTEP, random.Random(42), runs=3_000, daily_pnl=days, seed=42)
    c = monte_carlo(TOPSTEP, random.Random(43), runs=3_000, daily_pnl=days, seed=43)
    assert a.as_dict() == b.as_dict()
    assert a.passed.hits != c.passed.hits or a.days_to_pass_median != c.days_to_pass_median


Z_STRICT = 4.0  # a true value outside a 4-sigma Wilson interval: about 6 in 100,000


@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(target=st.integers(1, 5), ruin=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_a_coin_flip_passes_as_often_as_the_gamblers_ruin_closed_form(target: int, ruin: int, seed: int) -> None:
    # +-1 unit a day with even odds; the floor locked at the start (no trailing); no daily limit:
    # the probability of reaching +target before -ruin is ruin / (target + ruin)
    unit = 100 * K
    rules = ChallengeRules(
        starting_balance=50_000 * K,
        profit_target=target * unit,
        trailing_drawdown=ruin * unit,
        trailing_lock_offset=-ruin * unit,
        max_days=None,
    )
    odds = monte_carlo(rules, random.Random(seed), runs=2_000, daily_pnl=[unit, -unit])
    assert odds.running.hits == 0  # 250 days: absorbed long before (expected duration target*ruin)
    interval = wilson(odds.passed.hits, odds.runs, z=Z_STRICT)
    assert interval.low <= ruin / (target + ruin) <= interval.high


def test_trade_bootstrap_draws_each_day_a_backtest_days_number_of_trades() -> None:
    odds = monte_carlo(TOPSTEP, random.Random(3), runs=200, trade_pnl=[150 * K], trades_per_day=[2, 4], method="trades")
    # 300 or 600 a day: 3,000 takes 5 to 10 days, never fewer than 5
    assert odds.passed.hits == 200
    assert odds.days_to_pass_p10 is not None and odds.days_to_pass_p10 >= 5


def test_wilson_interval_matches_a_textbook_value() -> None:
    interval = wilson(81, 263)  # Wilson (1927) style example: p = 0.308, 95% CI ~ (0.255, 0.366)
    assert round(interval.low, 3) == 0.255
    assert round(interval.high, 3) == 0.366


def test_nothing_to_draw_from_is_an_error() -> None:
    with pytest.raises(ValueError, match="no daily P&L"):
        monte_carlo(TOPSTEP, random.Random(0), runs=10, daily_pnl=[])


def test_the_shipped_topstep_profile_yaml_gives_its_balance_daily_loss_and_locking_drawdown() -> None:
    # read as a file (at-obs never imports exec-sim): the profile the risk engine enforces
    import yaml

    path = Path(__file__).resolve().parents[3] / "at-exec-sim/src/at_exec_sim/data/profiles/topstep_50k.yaml"
    rules = ChallengeRules.from_exec_sim_profile(yaml.safe_load(path.read_text()), Decimal(3000))
    assert (rules.starting_balance, rules.daily_loss_limit, rules.trailing_drawdown, rules.trailing_lock_offset) == (
        50_000 * K, 1_000 * K, 2_000 * K, 0,
    )  # fmt: skip
