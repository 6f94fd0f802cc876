"""Token and cost budgets per hour and per day, per agent and global. Pure: time is passed in.

A budget is checked *before* each call; a refusal is a reason the agent abstains with.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

HOUR_NS = 3_600 * 10**9
DAY_NS = 24 * HOUR_NS


@dataclass(frozen=True)
class Budget:
    """Limits; None means unlimited."""

    tokens_per_hour: int | None = None
    tokens_per_day: int | None = None
    cost_per_hour: Decimal | None = None
    cost_per_day: Decimal | None = None


@dataclass
class BudgetLedger:
    """Spending per scope ("global" or an agent id) over a rolling day."""

    spent: dict[str, deque[tuple[int, int, Decimal]]] = field(default_factory=dict)

    def record(self, scope: str, now_ns: int, tokens: int, cost: Decimal) -> None:
        self.spent.setdefault(scope, deque()).append((now_ns, tokens, cost))
        self._trim(scope, now_ns)

    def used(self, scope: str, now_ns: int, window_ns: int) -> tuple[int, Decimal]:
        rows = [r for r in self.spent.get(scope, ()) if now_ns - window_ns < r[0] <= now_ns]
        return sum(r[1] for r in rows), sum((r[2] for r in rows), Decimal(0))

    def refusal(self, scope: str, budget: Budget, now_ns: int) -> str | None:
        """Why a new call in ``scope`` must not be made now, or None when it may."""
        for window, name, max_tokens, max_cost in (
            (HOUR_NS, "hour", budget.tokens_per_hour, budget.cost_per_hour),
            (DAY_NS, "day", budget.tokens_per_day, budget.cost_per_day),
        ):
            tokens, cost = self.used(scope, now_ns, window)
            if max_tokens is not None and tokens >= max_tokens:
                return f"{scope} token budget exhausted: {tokens} of {max_tokens} per {name}"
            if max_cost is not None and cost >= max_cost:
                return f"{scope} cost budget exhausted: {cost} of {max_cost} per {name}"
        return None

    def _trim(self, scope: str, now_ns: int) -> None:
        rows = self.spent[scope]
        while rows and rows[0][0] <= now_ns - DAY_NS:
            rows.popleft()
