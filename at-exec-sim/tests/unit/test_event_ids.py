"""Every event the engine makes has an id of its own: JetStream de-duplicates on the event id
(Nats-Msg-Id), so two outputs sharing an id would lose the second. Ids fan out from one input
to many accounts, orders and fills; each of those must name what it is for."""

from __future__ import annotations

from tests.helpers import D, engine, factory, proposal, quote

from at_core.events import Event, Heartbeat
from at_core.models.enums import OrderSide, OrderType, TradingState
from at_exec_sim.domain.engine import ExecutionEngine

BUY, SELL = OrderSide.BUY, OrderSide.SELL
PROP_ACCOUNTS = ("topstep-50k-1", "apex-50k-1")


def of_type(events: list[Event], event_type: str) -> list[Event]:
    return [e for e in events if e.event_type == event_type]


def assert_unique_ids(events: list[Event]) -> None:
    ids = [e.event_id for e in events]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_two_accounts_holding_one_instrument_get_distinct_account_state_ids() -> None:
    eng, f = engine(), factory()
    eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.00"))
    for account in PROP_ACCOUNTS:
        eng.on_proposal(proposal(f, account, "MES.CME", BUY, "1", automated=False))
    out = eng.on_market_data(quote(f, "MES.CME", "5002.00", "5002.00"))
    states = of_type(out, "account_state")
    assert sorted(s.account_id for s in states) == sorted(PROP_ACCOUNTS)
    assert states[0].event_id != states[1].event_id
    # +2 points x 5 on one MES each: the same mark, each account's own event
    assert [s.unrealized_pnl for s in states] == [D(10), D(10)]


def test_one_market_event_breaching_two_accounts_halts_and_flattens_each_with_its_own_ids() -> None:
    eng, f = engine(), factory()
    eng.on_market_data(quote(f, "ES.CME", "5000.00", "5000.00"))
    for account in PROP_ACCOUNTS:
        eng.on_proposal(proposal(f, account, "ES.CME", BUY, "2", automated=False))
    # -30 points x 50 x 2 = -3,000: below Topstep's daily floor (49,000) and Apex's trailing floor (47,500)
    out = eng.on_market_data(quote(f, "ES.CME", "4970.00", "4970.00"))
    assert_unique_ids(out)
    halts = of_type(out, "trading_state_changed")
    assert sorted((h.account_id, h.reason) for h in halts) == [
        ("apex-50k-1", "trailing_drawdown"),
        ("topstep-50k-1", "daily_loss"),
    ]
    flatten_orders = {e.account_id: e.client_order_id for e in of_type(out, "order_submitted")}
    assert len(set(flatten_orders.values())) == 2
    assert len(of_type(out, "fill")) == 2
    states = {"apex-50k-1": TradingState.HALTED, "topstep-50k-1": TradingState.LOCKED_UNTIL}  # Topstep's is soft
    for account in PROP_ACCOUNTS:
        rt = eng.accounts[account]
        assert rt.state is states[account] and rt.account.positions["ES.CME"].quantity == 0


def test_a_kill_switch_for_every_account_gives_each_account_its_own_state_change() -> None:
    eng, f = engine(), factory()
    eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.00"))
    for account in PROP_ACCOUNTS:
        eng.on_proposal(proposal(f, account, "MES.CME", BUY, "1", automated=False))
    command = f.make(Heartbeat, service="operator", instance="0")
    out = eng.kill_switch(command, None, flatten=True)
    assert_unique_ids(out)
    assert len(of_type(out, "trading_state_changed")) == len(eng.accounts)
    assert len(of_type(out, "fill")) == 2  # the two open MES positions


def test_a_busy_session_over_many_accounts_orders_and_fills_never_repeats_an_id() -> None:
    eng, f = engine(), factory()
    out: list[Event] = eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.25", size="1"))
    for account in (*PROP_ACCOUNTS, "paper-1"):
        out += eng.on_proposal(proposal(f, account, "MES.CME", BUY, "1", automated=False))
        # 3 at 4999.75 rest; they fill one a quote on the same market events for three accounts
        limit = proposal(f, account, "MES.CME", BUY, "3", order_type=OrderType.LIMIT, limit="4999.75", automated=False)
        out += eng.on_proposal(limit)
    for _ in range(3):
        out += eng.on_market_data(quote(f, "MES.CME", "4999.50", "4999.75", size="1"))
    out += eng.on_proposal(proposal(f, "paper-1", "MES.CME", SELL, "4"))
    assert_unique_ids(out)
    assert len(of_type(out, "order_filled")) == 7
    assert len({e.trade_id for e in of_type(out, "fill")}) == len(of_type(out, "fill"))


def test_a_breach_flattening_two_instruments_is_finished_for_both_after_a_crash() -> None:
    eng, f = engine(), factory()
    for instrument in ("ES.CME", "NQ.CME"):
        eng.on_market_data(quote(f, instrument, "5000.00", "5000.00"))
        eng.on_proposal(proposal(f, "topstep-50k-1", instrument, BUY, "1"))
    before_breach = stream_so_far(eng)
    # ES -25 x 50 = -1,250 breaches the daily loss: flatten ES and NQ
    out = eng.on_market_data(quote(f, "ES.CME", "4975.00", "4975.00"))
    flatten_decisions = [e for e in of_type(out, "risk_decision") if e.order.reduce_only]
    assert len(flatten_decisions) == 2
    assert flatten_decisions[0].request_event_id == flatten_decisions[1].request_event_id  # the same halt
    # the service crashed after publishing the halt and both decisions, before either order
    crashed_after = out.index(flatten_decisions[1]) + 1
    history = [e for e in out[:crashed_after] if e.event_type in ("trading_state_changed", "risk_decision")]
    restarted = engine()
    for event in [*before_breach, *history]:
        restarted.recover(event)
    restarted.prime_market(quote(f, "ES.CME", "4975.00", "4975.00"))
    restarted.prime_market(quote(f, "NQ.CME", "5000.00", "5000.00"))
    resumed = restarted.resume_unfinished()
    submitted = of_type(resumed, "order_submitted")
    assert sorted(s.instrument_id for s in submitted) == ["ES.CME", "NQ.CME"]
    # the same ids as the run that crashed would have published
    assert {s.event_id for s in submitted} == {s.event_id for s in of_type(out, "order_submitted")}
    assert all(p.quantity == 0 for p in restarted.accounts["topstep-50k-1"].account.positions.values())


def stream_so_far(eng: ExecutionEngine) -> list[Event]:
    """What AT_EXECUTION holds for the engine's orders so far: decisions, submissions, fills."""
    decisions = sorted(eng.approved.values(), key=lambda d: d.event_id)
    submissions = [r.submitted for r in eng.orders.values() if r.submitted is not None]
    return [*decisions, *submissions, *eng.fills]


def test_the_same_inputs_give_the_same_ids() -> None:
    def run() -> list[str]:
        eng, f = engine(), factory()
        out = eng.on_market_data(quote(f, "ES.CME", "5000.00", "5000.00"))
        for account in PROP_ACCOUNTS:
            out += eng.on_proposal(proposal(f, account, "ES.CME", BUY, "2", automated=False))
        out += eng.on_market_data(quote(f, "ES.CME", "4970.00", "4970.00"))
        return [e.event_id for e in out]

    assert run() == run()
