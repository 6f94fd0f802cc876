"""Subjects are built by code, escape special characters reversibly, and map to streams."""

from __future__ import annotations

import pytest

from at_core import subjects
from at_core.errors import SubjectTokenError


@pytest.mark.parametrize(
    ("raw", "token"),
    [
        ("BRK.B", "BRK~2EB"),
        ("BTC/USDT", "BTC~2FUSDT"),
        ("a b", "a~20b"),
        ("*", "~2A"),
        (">", "~3E"),
        ("~", "~7E"),
        ("plain-id_1", "plain-id_1"),
    ],
)
def test_tokens_are_escaped_reversibly(raw: str, token: str) -> None:
    assert subjects.escape_token(raw) == token
    assert subjects.unescape_token(token) == raw


def test_empty_tokens_are_refused() -> None:
    with pytest.raises(SubjectTokenError, match="empty"):
        subjects.escape_token("")


def test_a_malformed_escape_is_refused() -> None:
    with pytest.raises(SubjectTokenError, match="bad escape"):
        subjects.unescape_token("BRK~2")


def test_every_stored_subject_has_exactly_one_stream() -> None:
    samples = [
        subjects.signal("tradingview", "acct", "strat", "ES.CME"),
        subjects.market_data("quote", "CME", "ES.CME"),
        subjects.trade_proposal("acct", "ES.CME"),
        subjects.fill("acct", "ES.CME"),
        subjects.rejected_input("gateway", "stale"),
        subjects.execution_request("acct", "ES.CME"),
        subjects.order("filled", "acct", "ES.CME"),
    ]
    for subject in samples:
        owners = [s for s in subjects.STREAMS if any(subjects.subject_matches(p, subject) for p in s.subjects)]
        assert len(owners) == 1, subject


def test_heartbeats_are_not_stored() -> None:
    assert subjects.stream_for_subject(subjects.heartbeat("gateway")) is None


@pytest.mark.parametrize(
    ("pattern", "subject", "matches"),
    [
        ("at.>", "at.x", True),
        ("at.>", "at", False),
        ("at.*.b", "at.a.b", True),
        ("at.*.b", "at.a.c", False),
        ("at.a", "at.a.b", False),
    ],
)
def test_wildcard_matching_follows_nats(pattern: str, subject: str, matches: bool) -> None:
    assert subjects.subject_matches(pattern, subject) is matches


def test_every_event_is_believed_on_the_subject_it_is_published_on() -> None:
    from at_core.testing.examples import all_examples

    for event in all_examples():
        assert subjects.origin_violation(event.event_type, subjects.subject_for(event)) is None, event.event_type


def test_every_event_type_belongs_to_exactly_one_family() -> None:
    from at_core.testing.examples import all_examples

    for event in all_examples():
        owners = [f.pattern for f in subjects.FAMILIES if event.event_type in f.event_types]
        assert len(owners) == 1, (event.event_type, owners)


def test_a_proposal_on_a_market_data_subject_is_not_believed() -> None:
    assert subjects.origin_violation("trade_proposal", "at.md.quote.CME.MES") == subjects.REASON_WRONG_FAMILY
    assert subjects.origin_violation("fill", "at.agent.proposal.a.b") == subjects.REASON_WRONG_FAMILY
    assert subjects.origin_violation("fill", "elsewhere.fill") == subjects.REASON_UNKNOWN_SUBJECT
