"""Session cutoffs: a prop-firm account is flat by its cutoff (Topstep 15:10 Chicago, Apex 16:59
New York), with its working orders canceled, and opens nothing until the session reopens.

Times worked by hand from T0 = 2026-11-19T01:00Z = Wednesday 2026-11-18 19:00 CST = 20:00 EST:
Topstep's Wednesday-evening session ends Thursday 15:10 CST = 21:10Z = T0 + 20 h 10 min and the
next opens Thursday 17:00 CST = T0 + 22 h (Topstep's trading day runs 17:00 to 15:10 CT); Apex's ends Thursday 16:59 EST = 21:59Z = T0 + 20 h
59 min and the next opens Thursday 18:00 EST = T0 + 22 h. Friday's Topstep session ends Friday
15:10 CST = T0 + 44 h 10 min and the next opens Sunday 17:00 CST = 2026-11-22T23:00Z = T0 + 94 h.
"""

from __future__ import annotations

from datetime import time

import pytest
from tests.helpers import T0, D, engine, factory, proposal, quote

from at_core.clock import ManualClock
from at_core.events import Event, Heartbeat
from at_core.events import RiskReasonCode as Code
from at_core.models.enums import OrderSide, OrderType, TradingState
from at_core.models.risk import SessionWindow
from at_exec_sim.domain.accounts import load_profiles
from at_exec_sim.domain.sessions import in_session, status

SEC = 10**9
MIN = 60 * SEC
HOUR = 60 * MIN
TOPSTEP_CUTOFF = T0 + 20 * HOUR + 10 * MIN
TOPSTEP_REOPEN = T0 + 22 * HOUR
APEX_CUTOFF = T0 + 20 * HOUR + 59 * MIN
APEX_REOPEN = T0 + 22 * HOUR
FRIDAY_CUTOFF = TOPSTEP_CUTOFF + 24 * HOUR
SUNDAY_REOPEN = T0 + 94 * HOUR
TOPSTEP, APEX = "topstep-50k-1", "apex-50k-1"
BUY, SELL = OrderSide.BUY, OrderSide.SELL


def kinds(events: list[Event]) -> list[str]:
    return [e.event_type for e in events]


def of(events: list[Event], account_id: str) -> list[Event]:
    """The account's events (the flatten's position and fill events name it inside)."""
    coids = {
        e.client_order_id
        for e in events
        if getattr(e, "account_id", None) == account_id and hasattr(e, "client_order_id")
    }
    return [
        e
        for e in events
        if getattr(e, "account_id", None) == account_id
        or getattr(getattr(e, "position", None), "account_id", None) == account_id
        or getattr(e, "client_order_id", None) in coids
    ]


def tick(f):
    return f.make(Heartbeat, service="exec_sim", instance="0")


def codes(decision) -> set[str]:
    return {r.code for r in decision.reasons}


def long_with_a_resting_order(account: str = TOPSTEP):
    """2 MES bought at 5000.25 and a GTC buy limit for 1 at 4990.00 resting."""
    clock = ManualClock(T0)
    eng, f = engine(clock=clock), factory()
    eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.25"))
    PUBLISHED[:] = eng.on_proposal(proposal(f, account, "MES.CME", BUY, "2", automated=False))
    limit = eng.on_proposal(
        proposal(f, account, "MES.CME", BUY, "1", order_type=OrderType.LIMIT, limit="4990.00", automated=False)
    )
    PUBLISHED.extend(limit)
    return clock, eng, f, limit[1].client_order_id


PUBLISHED: list[Event] = []  # what the last long_with_a_resting_order published, in order


@pytest.mark.parametrize(
    ("profile_id", "at", "open_"),
    [
        ("topstep_50k", T0, True),  # Wednesday 19:00 CT
        ("topstep_50k", TOPSTEP_CUTOFF - 1, True),  # Thursday 15:09:59.999999999 CT
        ("topstep_50k", TOPSTEP_CUTOFF, False),  # 15:10 CT: closed
        ("topstep_50k", TOPSTEP_REOPEN, True),  # 17:00 CT
        ("topstep_50k", FRIDAY_CUTOFF + 3 * HOUR, False),  # Friday 18:10 CT: no Friday-evening session
        ("topstep_50k", T0 + 59 * HOUR, False),  # Saturday 12:00 CT
        ("topstep_50k", SUNDAY_REOPEN, True),  # Sunday 17:00 CT
        ("apex_50k", APEX_CUTOFF - 1, True),  # Thursday 16:58:59.999999999 ET
        ("apex_50k", APEX_CUTOFF, False),
        ("apex_50k", APEX_REOPEN, True),  # 18:00 ET
    ],
)
def test_the_shipped_prop_sessions_open_and_close_to_the_nanosecond(profile_id: str, at: int, open_: bool) -> None:
    assert in_session(load_profiles()[profile_id].limits.sessions, at) is open_


def test_after_the_topstep_close_the_status_names_the_close_and_the_reopening() -> None:
    st = status(load_profiles()["topstep_50k"].limits.sessions, FRIDAY_CUTOFF + MIN)
    assert not st.open and st.last_close is not None
    assert (st.last_close.end_ns, st.reopen_ns, st.next_change_ns) == (FRIDAY_CUTOFF, SUNDAY_REOPEN, SUNDAY_REOPEN)


def test_at_the_topstep_cutoff_the_account_is_flattened_its_orders_canceled_and_locked_until_18_00() -> None:
    clock, eng, f, resting = long_with_a_resting_order()
    clock.set(TOPSTEP_CUTOFF - 1)
    assert kinds(of(eng.on_market_data(quote(f, "MES.CME", "5009.75", "5010.00")), TOPSTEP)) == ["account_state"]
    clock.set(TOPSTEP_CUTOFF)
    out = of(eng.on_market_data(quote(factory(TOPSTEP_CUTOFF), "MES.CME", "5010.00", "5010.25")), TOPSTEP)
    assert kinds(out) == [
        "trading_state_changed",
        "order_canceled",
        "risk_decision",
        "order_submitted",
        "order_accepted",
        "fill",
        "position",
        "order_filled",
        "account_state",
    ]
    locked, canceled, decision, fill = out[0], out[1], out[2], out[5]
    assert (locked.state, locked.previous_state, locked.reason, locked.flatten) == (
        TradingState.LOCKED_UNTIL,
        TradingState.ACTIVE,
        "session_cutoff",
        True,
    )
    assert locked.locked_until_ns == TOPSTEP_REOPEN
    assert (canceled.client_order_id, canceled.reason) == (resting, "session_cutoff")
    assert decision.order.reduce_only and decision.order.side is SELL and decision.order.quantity == 2
    # sold at the bid: (5010.00 - 5000.25) x 5 x 2 = 97.50 realised, at the cutoff's time
    assert (fill.price, fill.quantity, fill.ts_event) == (D("5010.00"), D(2), TOPSTEP_CUTOFF)
    assert out[6].change == "closed" and out[8].balance == D("50097.50")
    rt = eng.accounts[TOPSTEP]
    assert rt.state is TradingState.LOCKED_UNTIL and rt.account.positions["MES.CME"].quantity == 0
    assert eng.venue.resting == {}


def test_after_the_cutoff_new_orders_are_denied_until_the_session_reopens() -> None:
    clock, eng, f, _ = long_with_a_resting_order()
    clock.set(TOPSTEP_CUTOFF)
    eng.on_timer(tick(f))
    clock.set(TOPSTEP_REOPEN - 1)
    # (Apex's 16:59 ET close, 15:59 CT, has passed too: its lock is Apex's, not this account's)
    denied = of(eng.on_proposal(proposal(f, TOPSTEP, "MES.CME", BUY, "1")), TOPSTEP)
    assert kinds(denied) == ["risk_decision"] and not denied[0].approved
    assert codes(denied[0]) == {Code.TRADING_LOCKED, Code.OUTSIDE_SESSION}
    clock.set(TOPSTEP_REOPEN)
    reopened = of(eng.on_timer(tick(f)), TOPSTEP)
    assert kinds(reopened) == ["trading_state_changed"]
    assert (reopened[0].state, reopened[0].reason) == (TradingState.ACTIVE, "session_open")
    approved = eng.on_proposal(proposal(f, TOPSTEP, "MES.CME", BUY, "1"))
    assert approved[0].approved


def test_the_live_timer_applies_the_cutoff_without_market_data_and_only_once() -> None:
    clock, eng, f, _ = long_with_a_resting_order()
    clock.set(TOPSTEP_CUTOFF)
    out = of(eng.on_timer(tick(f)), TOPSTEP)
    fills = [e for e in out if e.event_type == "fill"]
    # against the last quote seen (5000.00 / 5000.25): sold at 5000.00
    assert [(x.side, x.quantity, x.price) for x in fills] == [(SELL, D(2), D("5000.00"))]
    assert kinds(out)[:2] == ["trading_state_changed", "order_canceled"]
    clock.set(TOPSTEP_CUTOFF + SEC)
    assert of(eng.on_timer(tick(f)), TOPSTEP) == []
    assert of(eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.25")), TOPSTEP) == []


def test_a_proposal_after_the_cutoff_before_any_tick_applies_the_cutoff_then_is_denied() -> None:
    clock, eng, f, _ = long_with_a_resting_order()
    clock.set(TOPSTEP_CUTOFF + SEC)
    out = eng.on_proposal(proposal(f, TOPSTEP, "MES.CME", BUY, "1"))
    assert kinds(out)[0] == "trading_state_changed" and kinds(out)[-1] == "risk_decision"
    assert not out[-1].approved and Code.TRADING_LOCKED in codes(out[-1])
    assert eng.accounts[TOPSTEP].account.positions["MES.CME"].quantity == 0


def test_apex_is_flattened_at_16_59_new_york_time_and_reopens_at_18_00() -> None:
    clock, eng, f, _ = long_with_a_resting_order(APEX)
    clock.set(APEX_CUTOFF - 1)
    assert of(eng.on_timer(tick(f)), APEX) == []
    clock.set(APEX_CUTOFF)
    out = of(eng.on_timer(tick(f)), APEX)
    assert out[0].locked_until_ns == APEX_REOPEN
    assert eng.accounts[APEX].account.positions["MES.CME"].quantity == 0
    clock.set(APEX_REOPEN)
    assert [e.reason for e in of(eng.on_timer(tick(f)), APEX)] == ["session_open"]


def test_a_close_that_passed_unseen_flattens_at_the_next_event_after_it() -> None:
    # replay: the last market event came before Apex's 16:59 ET close, the next after its 18:00 reopening
    clock, eng, _, _ = long_with_a_resting_order(APEX)
    clock.set(APEX_REOPEN + MIN)
    out = of(eng.on_market_data(quote(factory(APEX_REOPEN + MIN), "MES.CME", "5001.00", "5001.25")), APEX)
    states = [(e.state, e.reason) for e in out if e.event_type == "trading_state_changed"]
    assert states == [(TradingState.LOCKED_UNTIL, "session_cutoff"), (TradingState.ACTIVE, "session_open")]
    assert eng.accounts[APEX].account.positions["MES.CME"].quantity == 0 and eng.venue.resting == {}


def test_a_flat_account_is_locked_at_the_cutoff_too() -> None:
    clock, f = ManualClock(T0), factory()
    eng = engine(clock=clock)
    eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.25"))
    clock.set(TOPSTEP_CUTOFF)
    out = of(eng.on_timer(tick(f)), TOPSTEP)
    assert kinds(out) == ["trading_state_changed"] and out[0].state is TradingState.LOCKED_UNTIL


def test_a_halted_account_is_flattened_at_the_cutoff_and_stays_halted() -> None:
    clock, eng, f, resting = long_with_a_resting_order()
    eng.kill_switch(None, TOPSTEP, flatten=False)  # an operator halted it, keeping the position
    clock.set(TOPSTEP_CUTOFF)
    out = of(eng.on_timer(tick(f)), TOPSTEP)
    assert "trading_state_changed" not in kinds(out)
    assert [e.client_order_id for e in out if e.event_type == "order_canceled"] == [resting]
    assert eng.accounts[TOPSTEP].state is TradingState.HALTED
    assert eng.accounts[TOPSTEP].account.positions["MES.CME"].quantity == 0
    clock.set(TOPSTEP_REOPEN)
    assert of(eng.on_timer(tick(f)), TOPSTEP) == []  # the session reopening does not lift a halt


def test_fridays_cutoff_locks_the_account_until_sunday_evening() -> None:
    clock = ManualClock(FRIDAY_CUTOFF)
    eng, f = engine(clock=clock), factory(FRIDAY_CUTOFF)
    out = of(eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.25")), TOPSTEP)
    assert out[0].locked_until_ns == SUNDAY_REOPEN
    clock.set(T0 + 59 * HOUR)  # Saturday noon
    denied = eng.on_proposal(proposal(f, TOPSTEP, "MES.CME", BUY, "1"))
    assert codes(denied[-1]) == {Code.TRADING_LOCKED, Code.OUTSIDE_SESSION}


def test_after_a_restart_the_cutoff_is_not_applied_again_and_the_lock_holds() -> None:
    clock, eng, f, _ = long_with_a_resting_order()
    clock.set(TOPSTEP_CUTOFF)
    published = [*PUBLISHED, *eng.on_timer(tick(f))]  # AT_EXECUTION, in stream order
    restarted = engine(clock=ManualClock(TOPSTEP_CUTOFF + MIN))
    for event in published:
        restarted.recover(event)
    restarted.prime_market(quote(f, "MES.CME", "5000.00", "5000.25"))
    assert restarted.resume_unfinished() == []
    assert of(restarted.on_timer(tick(f)), TOPSTEP) == []
    assert restarted.accounts[TOPSTEP].state is TradingState.LOCKED_UNTIL
    denied = restarted.on_proposal(proposal(f, TOPSTEP, "MES.CME", BUY, "1"))
    assert Code.TRADING_LOCKED in codes(denied[-1])


def test_a_window_without_flatten_at_end_only_denies_new_orders() -> None:
    window = SessionWindow(start=time(18), end=time(15, 10), timezone="America/Chicago", days=[6, 0, 1, 2, 3])
    st = status([window], TOPSTEP_CUTOFF)
    assert not st.open and st.last_close is not None and not st.last_close.window.flatten_at_end


def test_accounts_with_different_cutoffs_each_lock_and_reopen_at_their_own_times() -> None:
    """One engine, Topstep (15:10 Chicago) and Apex (16:59 New York): the walk that finds the
    next account due must not skip the one whose time comes later, nor act early."""

    def states(out: list[Event]) -> dict[str, str]:
        return {e.account_id: e.state for e in out if e.event_type == "trading_state_changed"}

    clock = ManualClock(T0)
    eng, f = engine(clock=clock), factory()
    eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.25"))
    eng.on_proposal(proposal(f, APEX, "MES.CME", BUY, "1", automated=False))
    clock.set(TOPSTEP_CUTOFF - 1)
    assert states(eng.on_timer(tick(f))) == {}
    clock.set(TOPSTEP_CUTOFF)
    assert states(eng.on_timer(tick(f))) == {TOPSTEP: TradingState.LOCKED_UNTIL}
    clock.set(APEX_CUTOFF - 1)
    assert states(eng.on_timer(tick(f))) == {}
    clock.set(APEX_CUTOFF)
    out = eng.on_timer(tick(f))
    assert states(out) == {APEX: TradingState.LOCKED_UNTIL} and "fill" in kinds(of(out, APEX))  # flattened
    clock.set(APEX_REOPEN - 1)
    assert states(eng.on_timer(tick(f))) == {}
    assert APEX_REOPEN == TOPSTEP_REOPEN  # 18:00 New York is 17:00 Chicago: both reopen at once
    clock.set(APEX_REOPEN)
    assert states(eng.on_timer(tick(f))) == {APEX: TradingState.ACTIVE, TOPSTEP: TradingState.ACTIVE}


# --- real calendars: CME holidays and early closes cut the prop sessions --------------------------

CT_ZONE = "America/Chicago"


def ct(y: int, m: int, d: int, h: int, mi: int = 0) -> int:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return int(datetime(y, m, d, h, mi, tzinfo=ZoneInfo(CT_ZONE)).timestamp()) * SEC


@pytest.mark.parametrize("profile", ["topstep_50k", "apex_50k"])
@pytest.mark.parametrize(
    ("when", "label"),
    [
        (ct(2026, 11, 26, 13), "Thanksgiving afternoon"),
        (ct(2026, 11, 27, 13), "the day after Thanksgiving, 13:00 CT"),
        (ct(2026, 12, 24, 13), "Christmas Eve afternoon"),
        (ct(2026, 12, 25, 10), "Christmas Day"),
        (ct(2027, 1, 1, 10), "New Year's Day"),
        (ct(2027, 11, 25, 13), "Thanksgiving 2027 afternoon"),
    ],
)
def test_prop_sessions_are_closed_on_cme_holidays_and_after_early_closes(profile: str, when: int, label: str) -> None:
    assert not in_session(load_profiles()[profile].limits.sessions, when), label


def test_topstep_trading_day_opens_at_1700_chicago() -> None:
    # the defect: the profile opened at 18:00, so an order at 17:30 CT was refused
    assert in_session(load_profiles()["topstep_50k"].limits.sessions, ct(2026, 12, 1, 17, 30))


def test_an_early_close_moves_the_flatten_to_the_early_close() -> None:
    windows = load_profiles()["topstep_50k"].limits.sessions
    st = status(windows, ct(2026, 11, 27, 12, 1))
    assert st.last_close is not None and st.last_close.end_ns == ct(2026, 11, 27, 12, 0)  # not 15:10
    assert st.reopen_ns == ct(2026, 11, 29, 17, 0)  # Sunday evening


def test_after_christmas_eve_the_session_reopens_sunday() -> None:
    st = status(load_profiles()["topstep_50k"].limits.sessions, ct(2026, 12, 24, 12, 30))
    assert not st.open
    assert st.last_close is not None and st.last_close.end_ns == ct(2026, 12, 24, 12, 0)
    assert st.reopen_ns == ct(2026, 12, 27, 17, 0)


def test_an_early_close_flattens_the_account_and_locks_it_until_sunday() -> None:
    clock = ManualClock(ct(2026, 11, 27, 9, 0))
    eng, f = engine(clock=clock), factory(clock.now_ns())
    eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.25"))
    eng.on_proposal(proposal(f, TOPSTEP, "MES.CME", BUY, "1"))
    clock.set(ct(2026, 11, 27, 12, 0))
    out = of(eng.on_timer(tick(f)), TOPSTEP)
    locked = [e for e in out if e.event_type == "trading_state_changed"]
    assert locked and locked[0].state is TradingState.LOCKED_UNTIL
    assert locked[0].locked_until_ns == ct(2026, 11, 29, 17, 0)
    assert eng.accounts[TOPSTEP].account.positions["MES.CME"].quantity == 0
