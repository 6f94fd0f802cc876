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


def _broker(status: str, **extra: object) -> dict[str, object]:
    return {
        "event_type": "broker_mismatch",
        "account_id": "topstep-50k-1",
        "venue": "topstepx",
        "status": status,
        "event_id": "e",
        "correlation_id": "c",
        **extra,
    }


def test_a_broker_mismatch_names_the_venue_each_difference_ours_and_theirs_and_the_halt() -> None:
    notice = notice_for(
        _broker(
            "mismatch",
            differences=[
                {"kind": "position", "item": "MESZ2026.CME", "ours": "2", "theirs": "1"},
                {"kind": "balance", "item": "USD", "ours": "-120.50", "theirs": "-95.50"},
            ],
            halted=True,
            message="topstepx holds MESZ2026.CME 1, exec-sim 2",
        )
    )
    assert notice is not None and notice.kind == "broker_mismatch"
    assert notice.title == "Broker mismatch topstep-50k-1 at topstepx: 2 differences, account HALTED"
    assert notice.body.splitlines() == [
        "position MESZ2026.CME: ours 2, theirs 1",
        "balance USD: ours -120.50, theirs -95.50",
        "topstepx holds MESZ2026.CME 1, exec-sim 2",
    ]


def test_a_broker_mismatch_that_did_not_halt_says_so() -> None:
    notice = notice_for(
        _broker("mismatch", differences=[{"kind": "position", "item": "X", "ours": "0", "theirs": "1"}], halted=False)
    )
    assert notice is not None and notice.title.endswith(": 1 difference, account not halted")


def test_a_broker_that_agrees_again_is_its_own_kind_so_a_route_can_leave_it_out() -> None:
    notice = notice_for(_broker("restored", message="positions agree again"))
    assert notice is not None and notice.kind == "broker_restored"
    assert notice.title == "Broker agrees again topstep-50k-1 at topstepx" and notice.body == "positions agree again"


def test_a_route_can_subscribe_to_broker_mismatches_and_an_unknown_kind_is_refused() -> None:
    import pytest
    from pydantic import ValidationError

    from at_obs.console_settings import NotifyRoute

    route = NotifyRoute(urls=["json://127.0.0.1/hook"], kinds=["broker_mismatch"])
    assert route.kinds == ["broker_mismatch"]
    assert {"broker_mismatch", "broker_restored"} <= set(NotifyRoute(urls=["json://x/"]).kinds)
    with pytest.raises(ValidationError, match="unknown notification kinds"):
        NotifyRoute(urls=["json://x/"], kinds=["broker_mismatches"])
