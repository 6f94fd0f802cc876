"""The odds of a challenge: a bootstrap Monte Carlo over the backtest's days or trades (pure).

Each run draws a path of days, with replacement, from what the backtest produced, and judges
it with :func:`~at_obs.backtest.challenge.run_challenge`:

* ``daily`` (default): each day's P&L is one of the backtest's daily P&Ls, drawn uniformly;
* ``trades``: each day has as many trades as a backtest day drawn uniformly, each trade's
  net P&L drawn uniformly from the trade list (breaks the link between trades of one day).

Both assume days (or trades) are independent and identically distributed: a strategy whose
results cluster (streaks, regimes) gets odds that are too smooth. Probabilities carry a
Wilson score interval; days to pass are the median and the 10th and 90th percentiles of the
passing runs. The RNG is injected: the same seed gives the same odds.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from at_obs.backtest.challenge import FAILURES, PASSED, RUNNING, ChallengeRules, run_challenge

Z95 = 1.959963984540054
DEFAULT_HORIZON = 250  # a trading year, when the rules set no max_days


@dataclass(frozen=True, slots=True)
class Proportion:
    """``hits`` of ``runs`` with its Wilson interval at ``z``."""

    hits: int
    runs: int
    low: float
    high: float

    @property
    def value(self) -> float:
        return self.hits / self.runs if self.runs else 0.0


def wilson(hits: int, runs: int, z: float = Z95) -> Proportion:
    """Wilson score interval for a binomial proportion (good near 0 and 1, unlike the normal one)."""
    if runs <= 0:
        return Proportion(hits, runs, 0.0, 1.0)
    p = hits / runs
    denom = 1 + z * z / runs
    centre = (p + z * z / (2 * runs)) / denom
    half = z * math.sqrt(p * (1 - p) / runs + z * z / (4 * runs * runs)) / denom
    return Proportion(hits, runs, max(0.0, centre - half), min(1.0, centre + half))


def _percentile(sorted_values: Sequence[int], q: float) -> float | None:
    if not sorted_values:
        return None
    k = (len(sorted_values) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


@dataclass(frozen=True)
class Odds:
    """What the Monte Carlo found."""

    runs: int
    seed: int
    method: str
    horizon_days: int
    passed: Proportion
    failed: dict[str, Proportion]
    running: Proportion
    days_to_pass_median: float | None
    days_to_pass_p10: float | None
    days_to_pass_p90: float | None

    def as_dict(self) -> dict[str, Any]:
        def prop(p: Proportion) -> dict[str, Any]:
            return {"probability": p.value, "hits": p.hits, "ci95": [p.low, p.high]}

        return {
            "runs": self.runs, "seed": self.seed, "method": self.method, "horizon_days": self.horizon_days,
            "passed": prop(self.passed), "failed": {k: prop(v) for k, v in self.failed.items()},
            "running": prop(self.running),
            "days_to_pass": {"median": self.days_to_pass_median, "p10": self.days_to_pass_p10,
                             "p90": self.days_to_pass_p90},
        }  # fmt: skip


def monte_carlo(
    rules: ChallengeRules,
    rng: random.Random,
    *,
    runs: int,
    daily_pnl: Sequence[int] = (),
    trade_pnl: Sequence[int] = (),
    trades_per_day: Sequence[int] = (),
    method: Literal["daily", "trades"] = "daily",
    seed: int = 0,
    progress: Callable[[int], Any] | None = None,
) -> Odds:
    """Run ``runs`` bootstrapped challenges.

    Args:
        rules: the challenge.
        rng: the injected random source (seeded by the caller; ``seed`` is only recorded).
        daily_pnl: the backtest's P&L per trading day, cents (``daily``).
        trade_pnl: net P&L per trade, cents, and ``trades_per_day`` per trading day (``trades``).
        progress: called with the number of runs done, every 1% or so.

    Raises:
        ValueError: no runs, or nothing to draw from.
    """
    if runs <= 0:
        raise ValueError("runs must be positive")
    if method == "daily" and not daily_pnl:
        raise ValueError("no daily P&L to draw from (the backtest traded on no day)")
    if method == "trades" and (not trade_pnl or not trades_per_day):
        raise ValueError("no trades to draw from")
    horizon = rules.max_days or DEFAULT_HORIZON
    days, trades, counts = list(daily_pnl), list(trade_pnl), list(trades_per_day)
    outcomes: Counter[str] = Counter()
    passed_on: list[int] = []
    step = max(1, runs // 100)
    for i in range(runs):
        if method == "daily":
            path = [days[rng.randrange(len(days))] for _ in range(horizon)]
        else:
            path = [
                sum(trades[rng.randrange(len(trades))] for _ in range(counts[rng.randrange(len(counts))]))
                for _ in range(horizon)
            ]
        outcome = run_challenge(path, rules)
        outcomes[outcome.status] += 1
        if outcome.status == PASSED:
            passed_on.append(outcome.day)
        if progress is not None and ((i + 1) % step == 0 or i + 1 == runs):
            progress(i + 1)
    passed_on.sort()
    return Odds(
        runs, seed, method, horizon,
        wilson(outcomes[PASSED], runs),
        {rule: wilson(outcomes[rule], runs) for rule in FAILURES},
        wilson(outcomes[RUNNING], runs),
        _percentile(passed_on, 0.5), _percentile(passed_on, 0.1), _percentile(passed_on, 0.9),
    )  # fmt: skip
