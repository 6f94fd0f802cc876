"""The hash chain, pure: every column is covered, and links, gaps and the head are checked."""

from __future__ import annotations

import dataclasses

from at_obs.domain.chain import GENESIS, AuditRecord, ChainHead, causal_order, seal, verify_chain


def _chain(n: int) -> list[AuditRecord]:
    head, out = ChainHead(), []
    for i in range(n):
        r = seal(
            head,
            event_id=f"e{i}",
            event_type="signal",
            correlation_id="c",
            causation_id=None,
            subject="at.signal.x",
            ts_event=i,
            payload=b'{"x":%d}' % i,
        )
        out.append(r)
        head = ChainHead(r.seq, r.hash)
    return out


def test_a_sealed_chain_verifies_against_its_head() -> None:
    records = _chain(5)
    assert records[0].prev_hash == GENESIS and records[0].seq == 1
    assert verify_chain(records, ChainHead(5, records[-1].hash)) == []


def test_changing_any_column_of_a_record_is_found_as_an_alteration() -> None:
    for column, value in (
        ("event_id", "forged"),
        ("event_type", "fill"),
        ("correlation_id", "other"),
        ("causation_id", "someone"),
        ("subject", "at.fill.x"),
        ("ts_event", 99),
        ("payload", b'{"x":9}'),
    ):
        records = _chain(4)
        records[2] = dataclasses.replace(records[2], **{column: value})
        assert verify_chain(records) == ["seq 3: hash does not match its content (altered)"], column


def test_a_record_dropped_from_the_middle_is_found() -> None:
    records = _chain(5)
    del records[2]
    problems = verify_chain(records)
    assert "seq 4: expected 3 (missing or reordered record)" in problems


def test_a_truncated_tail_is_found_only_by_the_head() -> None:
    records = _chain(5)
    head = ChainHead(5, records[-1].hash)
    assert verify_chain(records[:3]) == []
    assert any(p.startswith("head:") for p in verify_chain(records[:3], head))


def test_two_swapped_records_break_the_links() -> None:
    records = _chain(5)
    records[1], records[2] = records[2], records[1]
    assert any("prev_hash" in p for p in verify_chain(records))


def test_a_story_is_told_in_causal_order_even_when_recorded_out_of_order() -> None:
    def rec(seq: int, event_id: str, cause: str | None) -> AuditRecord:
        return AuditRecord(seq, event_id, "x", "c", cause, "s", 0, b"", "", "")

    records = [
        rec(1, "signal", None),
        rec(2, "decision", "proposal"),
        rec(3, "proposal", "signal"),
        rec(4, "fill", "decision"),
    ]
    assert [r.event_id for r in causal_order(records)] == ["signal", "proposal", "decision", "fill"]


def test_an_event_recorded_on_a_subject_it_may_not_come_from_is_flagged() -> None:
    from at_obs.domain.chain import misrouted

    head, records = ChainHead(), []
    for seq, (event_type, subject) in enumerate(
        [("signal", "at.signal.tv.a.s.MES"), ("fill", "at.agent.proposal.a.MES"), ("trade_proposal", "at.md.q.CME.MES")]
    ):
        r = seal(
            head,
            event_id=f"e{seq}",
            event_type=event_type,
            correlation_id="c",
            causation_id=None,
            subject=subject,
            ts_event=seq,
            payload=b"{}",
        )
        records.append(r)
        head = ChainHead(r.seq, r.hash)
    flagged = misrouted(records)
    assert len(flagged) == 2
    assert flagged[0].startswith("seq 2: a fill event on at.agent.proposal.a.MES")
    assert verify_chain(records, head) == []  # the chain itself is intact
