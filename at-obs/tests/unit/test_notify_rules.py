"""Which events notify, the rate limit and the digest (no I/O, time passed in)."""

from __future__ import annotations

from at_obs.domain.notify import Notice, Throttle, digest_text, notice_for


def _notice(i: int) -> Notice:
    return Notice("fill", "acct", f"fill {i}", "", f"e{i}", "c")


def test_a_halt_by_a_loss_rule_a_kill_switch_and_a_resume_are_three_kinds() -> None:
    base = {"event_type": "trading_state_changed", "account_id": "a", "event_id": "e", "correlation_id": "c"}
    assert (
        notice_for({**base, "state": "halted", "previous_state": "active", "reason": "daily_loss_limit"}).kind == "halt"
    )
    assert (
        notice_for({**base, "state": "halted", "previous_state": "active", "reason": "kill_switch"}).kind
        == "kill_switch"
    )
    assert notice_for({**base, "state": "active", "previous_state": "halted", "reason": "resume"}).kind == "resume"
    assert notice_for({**base, "state": "locked_until", "previous_state": "active", "reason": "x"}).kind == "lock"


def test_an_approved_decision_and_an_account_update_do_not_notify_a_denied_one_does() -> None:
    assert notice_for({"event_type": "risk_decision", "approved": True}) is None
    assert notice_for({"event_type": "account_state"}) is None
    denied = notice_for(
        {
            "event_type": "risk_decision",
            "approved": False,
            "account_id": "a",
            "reasons": [{"code": "max_position", "message": "m"}],
        }
    )
    assert denied is not None and denied.kind == "denied" and "max_position" in denied.body


def test_the_throttle_sends_up_to_the_limit_then_holds_the_rest_for_one_digest() -> None:
    t = Throttle(max_per_minute=2, digest_interval_s=30)
    assert [t.offer(_notice(i), now_s=100 + i) for i in range(5)] == [True, True, False, False, False]
    assert t.flush(now_s=120) == []  # the digest interval is not over
    held = t.flush(now_s=133)
    assert [n.event_id for n in held] == ["e2", "e3", "e4"]
    assert t.flush(now_s=200) == []


def test_after_a_quiet_minute_notices_go_one_by_one_again() -> None:
    t = Throttle(max_per_minute=1, digest_interval_s=10)
    assert t.offer(_notice(0), now_s=0)
    assert not t.offer(_notice(1), now_s=1)
    assert [n.event_id for n in t.flush(now_s=11)] == ["e1"]
    assert t.offer(_notice(2), now_s=61)


def test_a_digest_names_how_many_of_each_kind() -> None:
    title, body = digest_text([_notice(0), _notice(1), Notice("halt", "a", "halted", "", "h", "c")])
    assert title == "3 notifications: 2 fill, 1 halt"
    assert body.splitlines() == ["fill 0", "fill 1", "halted"]
