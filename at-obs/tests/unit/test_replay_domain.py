"""Replay verification without I/O: lineage matching, the output hash, the operator's summary."""

from __future__ import annotations

from decimal import Decimal

from tests.paper_stack import recorded_session

from at_core.events import AgentAnalysisEvent, Event
from at_obs.domain.replay import diff, expected_per_root, output_hash, split, summarize


def _with_a_second_agent(events: list[Event]) -> tuple[list[Event], AgentAnalysisEvent]:
    analysis = next(e for e in events if isinstance(e, AgentAnalysisEvent))
    sibling = analysis.model_copy(update={"event_id": "01M7Q5CQG0AAAAAAAAAAAAAAAA", "agent_id": "trend"})
    return [*events, sibling], sibling


def test_outputs_in_another_arrival_order_are_identical_and_hash_the_same() -> None:
    events = recorded_session()
    assert diff(events, list(reversed(events))) == []
    assert output_hash(events) == output_hash(list(reversed(events)))


def test_one_changed_sibling_is_one_difference_naming_its_field() -> None:
    events, sibling = _with_a_second_agent(recorded_session())
    changed = [sibling.model_copy(update={"conviction": Decimal("0.1")}) if e is sibling else e for e in events]
    differences = diff(events, changed)
    assert [(d.kind, d.event_type, d.fields) for d in differences] == [("changed", "agent_analysis", ("conviction",))]
    assert differences[0].lineage[:2] == (sibling.causation_id, "agent_analysis")


def test_an_output_only_the_replay_has_is_extra_and_names_its_event_id() -> None:
    events, sibling = _with_a_second_agent(recorded_session())
    [difference] = diff(recorded_session(), events)
    assert difference.kind == "extra"
    assert difference.describe().endswith(f"(agent_analysis): event {sibling.event_id}")


def test_replay_waits_after_each_input_for_the_outputs_it_caused_in_the_recording() -> None:
    inputs, outputs = split(recorded_session())
    expected = expected_per_root(outputs)
    assert sum(expected.values()) == len(outputs) == 49
    assert set(expected) <= {e.event_id for e in inputs}
    assert [e.ts_event for e in inputs] == sorted(e.ts_event for e in inputs)


def test_the_summary_has_trades_pnl_drawdown_breaches_and_denials() -> None:
    summary = summarize(recorded_session())
    assert summary.trades == 4
    assert summary.pnl == {"topstep-50k-1": Decimal("-253.70")}
    assert summary.max_drawdown == {"topstep-50k-1": Decimal("271.11")}
    assert summary.breaches == ["topstep-50k-1: halted (daily_loss_limit)"]
    assert summary.denials == {"max_position": 1, "trading_halted": 1}
    curve = summary.equity_curve["topstep-50k-1"]
    assert curve[0][1] == Decimal(50_000) and curve[-1][1] == Decimal(50_000) + summary.pnl["topstep-50k-1"]
