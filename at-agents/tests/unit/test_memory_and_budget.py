"""Memory bounds and point-in-time visibility; budgets per rolling hour and day."""

from __future__ import annotations

from decimal import Decimal

from at_agents.domain.budget import DAY_NS, HOUR_NS, Budget, BudgetLedger
from at_agents.domain.memory import MemoryEntry, StrategyMemory


def _entry(ts: int, kind: str = "decision") -> MemoryEntry:
    return MemoryEntry(kind=kind, ts_ns=ts, signal_event_id=f"s{ts}", account_id="paper-1", action="propose")


def test_memory_keeps_only_the_newest_entries_of_each_kind() -> None:
    m = StrategyMemory(strategy_id="s", instrument_id="MES.CME")
    for ts in range(10):
        m = m.add(_entry(ts), max_decisions=3, max_signals=2).add(_entry(ts, "signal"), 3, 2)
    assert [e.ts_ns for e in m.entries if e.kind == "decision"] == [7, 8, 9]
    assert [e.ts_ns for e in m.entries if e.kind == "signal"] == [8, 9]


def test_memory_hides_entries_made_after_the_decision_time() -> None:
    m = StrategyMemory(strategy_id="s", instrument_id="X").add(_entry(5), 5, 5).add(_entry(50), 5, 5)
    assert [e.ts_ns for e in m.visible_at(10)] == [5]


def test_a_token_budget_refuses_once_spent_and_frees_after_the_hour() -> None:
    ledger, budget = BudgetLedger(), Budget(tokens_per_hour=1000)
    ledger.record("a", 0, 1000, Decimal(0))
    assert "token budget exhausted" in ledger.refusal("a", budget, 1)
    assert ledger.refusal("a", budget, HOUR_NS + 1) is None
    assert ledger.refusal("b", budget, 1) is None  # budgets are per scope


def test_a_daily_cost_budget_spans_the_rolling_day() -> None:
    ledger, budget = BudgetLedger(), Budget(cost_per_day=Decimal("1.00"))
    ledger.record("global", 0, 10, Decimal("0.60"))
    ledger.record("global", 5 * HOUR_NS, 10, Decimal("0.40"))
    assert "cost budget exhausted" in ledger.refusal("global", budget, 6 * HOUR_NS)
    assert ledger.refusal("global", budget, DAY_NS + 1) is None


def test_extending_memory_keeps_the_same_log_as_adding_one_by_one() -> None:
    one, many = StrategyMemory(strategy_id="s", instrument_id="X"), StrategyMemory(strategy_id="s", instrument_id="X")
    for ts in range(12):
        one = one.add(_entry(ts, "signal"), 4, 3).add(_entry(ts), 4, 3)
        many = many.extend((_entry(ts, "signal"), _entry(ts)), 4, 3)
    assert many == one and len(many.entries) == 7


def test_a_redelivered_signal_is_remembered_once_as_last_decided() -> None:
    m = StrategyMemory(strategy_id="s", instrument_id="X").extend((_entry(1, "signal"), _entry(1)), 5, 5)
    again = _entry(1).model_copy(update={"action": "none"})
    m = m.extend((_entry(2, "signal"), _entry(2)), 5, 5).extend((_entry(1, "signal"), again), 5, 5)
    assert [(e.kind, e.ts_ns, e.action) for e in m.entries] == [
        ("signal", 2, "propose"),
        ("decision", 2, "propose"),
        ("signal", 1, "propose"),
        ("decision", 1, "none"),
    ]
