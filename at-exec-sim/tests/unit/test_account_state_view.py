"""GET /account's ``state``: a lock, a halt and a breach read differently; which rule, when it lifts, what to do."""

from __future__ import annotations

from tests.helpers import T0, engine, factory, proposal, quote

from at_core.clock import ManualClock
from at_core.models.enums import OrderSide
from at_exec_sim.domain.state_view import explain, iso

HOUR = 3600 * 10**9


def _state(eng, account_id: str) -> dict:  # type: ignore[no-untyped-def]
    (view,) = eng.query.accounts(account_id)
    return view.state


def test_an_active_account_says_it_trades() -> None:
    state = _state(engine(), "paper-1")
    assert state["kind"] == "active" and state["lifts_at"] is None and state["rule"] is None


def test_a_soft_breach_names_its_rule_and_the_time_it_lifts_by_itself() -> None:
    clock = ManualClock(T0)
    eng, f = engine(clock=clock), factory()
    eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.00"))
    eng.on_proposal(proposal(f, "topstep-50k-1", "MES.CME", OrderSide.BUY, "5"))
    eng.on_market_data(quote(f, "MES.CME", "4958.00", "4958.00"))  # daily loss: a soft breach
    state = _state(eng, "topstep-50k-1")
    lifts = iso(T0 + 22 * HOUR)
    assert (state["kind"], state["rule"], state["severity"]) == ("breach", "daily_loss", "soft")
    assert state["lifts_at"] == lifts == "2026-11-19T23:00:00Z"
    assert state["lifts"].startswith(f"by itself at {lifts}")
    assert "nothing" in state["operator_action"] and "POST /resume" in state["operator_action"]
    assert "daily loss breached" in state["message"] and state["since"] == iso(T0)


def test_a_hard_breach_halts_until_an_operator_resumes_and_says_the_firm_would_fail_it() -> None:
    eng, f = engine(), factory()
    eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.00"))
    eng.on_proposal(proposal(f, "apex-50k-1", "MES.CME", OrderSide.BUY, "5", automated=False))  # Apex: a person's order
    eng.on_market_data(quote(f, "MES.CME", "4880.00", "4880.00"))  # -3,000: past the 2,500 trailing drawdown
    state = _state(eng, "apex-50k-1")
    assert (state["kind"], state["severity"]) == ("breach", "hard")
    assert state["rule"] == "trailing_drawdown" and state["lifts_at"] is None
    assert state["lifts"] == "only when an operator resumes"
    assert "fails the account" in state["operator_action"] and '"account_id": "apex-50k-1"' in state["operator_action"]


def test_the_kill_switch_reads_as_a_halt_not_a_breach() -> None:
    eng = engine()
    eng.kill_switch(None, "paper-1", flatten=False)
    state = _state(eng, "paper-1")
    assert (state["kind"], state["reason"], state["rule"]) == ("halt", "kill_switch", None)
    assert "kill switch" in state["operator_action"] and "POST /resume" in state["operator_action"]
    eng.resume(None, "paper-1")
    assert _state(eng, "paper-1")["kind"] == "active"


def test_a_session_cutoff_reads_as_a_routine_lock_that_reopens_by_itself() -> None:
    eng = engine()
    rt = eng.accounts["topstep-50k-1"]
    eng.trading.set_state(None, rt, rt.state.LOCKED_UNTIL, "session_cutoff", "session closed", False, T0 + HOUR)
    state = explain(rt)
    assert (state["kind"], state["rule"]) == ("lock", None)
    assert state["lifts"] == f"by itself at {iso(T0 + HOUR)}, when the session reopens"
    assert state["operator_action"].startswith("nothing")


def test_decisions_are_listed_newest_first_with_denials_only_on_request() -> None:
    eng, f = engine(), factory()
    eng.on_proposal(proposal(f, "paper-1", "MES.CME", OrderSide.BUY, "1"))  # no price: denied
    eng.on_market_data(quote(f, "MES.CME", "5000", "5000.25"))
    eng.on_proposal(proposal(f, "paper-1", "MES.CME", OrderSide.BUY, "1"))
    assert [d.approved for d in eng.query.decisions()] == [False, True]
    (denied,) = eng.query.decisions(approved=False)
    assert denied.reasons[0].code == "no_market_price"
