"""A rule agent's analysis event and vote, built without a second validation, are the validated ones."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError
from tests.helpers import factory, signal

from at_agents.domain.analysis import Analysis
from at_agents.domain.committee import CommitteeConfig, Member
from at_agents.domain.decision import analysis_event, id_time_ns, rule_analysis_event, votes_of
from at_core.events import AgentAnalysisEvent, AgentVote
from at_core.models.enums import Stance
from at_core.serialization import encode_event

VIEWS = [
    Analysis(
        stance=Stance.LONG,
        conviction=Decimal("0.8"),
        target_quantity=Decimal(2),
        quantity=Decimal(2),
        stop_price=Decimal("4990.00"),
        rationale="buy 2; from 0 to 2",
        evidence_ids=["01M7RN2KM0V3RS3DTR98H6BCFN"],
    ),
    Analysis(stance=Stance.FLAT, conviction=Decimal(0), veto=True, rationale="blackout: FOMC"),
    Analysis(stance=Stance.SHORT, conviction=Decimal("-0.30"), quantity=Decimal(1), rationale="x" * 5000),
    Analysis.abstain("3 bars seen, 20 needed"),
    Analysis(abstained=True, abstain_reason="sizes entries only", stance=Stance.LONG, conviction=Decimal(1)),
    Analysis(stance=Stance.LONG, conviction=Decimal(1), model="m", input_tokens=3, output_tokens=0, inputs_hash="h"),
]
LATENCIES = [None, Decimal("0.042"), Decimal("12.5")]


def _pair(view: Analysis, latency: Decimal | None) -> tuple[AgentAnalysisEvent, AgentAnalysisEvent]:
    sig = signal(factory())
    agents = factory(seed=9)
    validated = analysis_event(agents, sig, "trend_filter", "rule", view, latency)
    fast = rule_analysis_event(agents, sig, "trend_filter", view, latency, id_time_ns(sig))
    return validated, fast


@pytest.mark.parametrize("latency", LATENCIES)
@pytest.mark.parametrize("view", VIEWS)
def test_a_trusted_analysis_event_has_the_validated_events_bytes_and_fields(
    view: Analysis, latency: Decimal | None
) -> None:
    validated, fast = _pair(view, latency)
    assert encode_event(fast) == encode_event(validated)
    assert fast == validated and fast.model_fields_set == validated.model_fields_set
    assert type(fast) is AgentAnalysisEvent and fast.model_dump() == validated.model_dump()
    assert AgentAnalysisEvent.model_validate(fast.model_dump()) == fast  # it would pass validation


def test_a_trusted_analysis_event_does_not_share_the_views_lists() -> None:
    _, fast = _pair(VIEWS[0], None)
    assert fast.evidence_ids == VIEWS[0].evidence_ids and fast.evidence_ids is not VIEWS[0].evidence_ids


def test_a_view_the_event_refuses_is_still_refused() -> None:
    sig = signal(factory())
    unsaid = Analysis(rationale="no stance, no abstention")  # a valid Analysis, an invalid event
    with pytest.raises(ValidationError, match="needs stance and conviction"):
        rule_analysis_event(factory(seed=9), sig, "trend_filter", unsaid, None, id_time_ns(sig))
    with pytest.raises(ValidationError):
        rule_analysis_event(factory(seed=9), sig, "x" * 129, VIEWS[0], None, id_time_ns(sig))
    with pytest.raises(ValidationError):
        rule_analysis_event(factory(seed=9), sig, "trend_filter", VIEWS[0], Decimal("NaN"), id_time_ns(sig))


def test_trusted_votes_are_the_validated_votes() -> None:
    sig = signal(factory())
    agents = factory(seed=9)
    ids = ["signal_follower", "trend_filter", "session_guard", "volatility_sizer"]
    views = dict(zip(ids, VIEWS[:4], strict=True))
    analyses = {a: rule_analysis_event(agents, sig, a, v, None, id_time_ns(sig)) for a, v in views.items()}
    config = CommitteeConfig(
        "c", tuple(Member(a, weight=Decimal(w)) for a, w in zip(ids, ("1", "0.5", "2", "0"), strict=True))
    )
    dropped = {"volatility_sizer": "missed the 5.0s deadline"}
    fast = votes_of(config, views, analyses, dropped)
    validated = [AgentVote.model_validate(v.model_dump()) for v in fast]
    assert fast == validated and [v.model_fields_set for v in fast] == [v.model_fields_set for v in validated]
    assert [v.model_dump_json() for v in fast] == [v.model_dump_json() for v in validated]
    assert [v.dropped_reason for v in fast] == [None, None, None, "missed the 5.0s deadline"]


def test_an_llm_agents_vote_is_validated() -> None:
    sig = signal(factory())
    view = Analysis(stance=Stance.LONG, conviction=Decimal("0.5"), model="local:m")
    analysis = analysis_event(factory(seed=9), sig, "analyst", "llm", view)
    config = CommitteeConfig("c", (Member("analyst", weight=Decimal("NaN")),))
    with pytest.raises(ValidationError):  # a weight no validated vote holds: the vote is validated
        votes_of(config, {"analyst": view}, {"analyst": analysis}, {})
