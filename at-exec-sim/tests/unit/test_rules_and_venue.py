"""Trailing drawdown step by step; the venue's order types on quote and bar paths; determinism."""

from __future__ import annotations

from datetime import date

import pytest
from tests.helpers import T0, D, engine, factory, proposal, quote

from at_core.clock import ManualClock
from at_core.models.enums import OrderSide, OrderType, TimeInForce, TradingState
from at_core.models.orders import OrderSpec
from at_core.models.risk import RiskLimits, RiskProfile, TrailingBasis, TrailingDrawdown
from at_core.serialization import stream_sha256
from at_exec_sim.domain.rules import RuleState
from at_exec_sim.domain.venue import Market, SimVenue

HOUR = 3600 * 10**9
DAY = 24 * HOUR


def profile(basis: TrailingBasis, stop_at: str | None = "0") -> RiskProfile:
    return RiskProfile(
        profile_id="p",
        version="1",
        starting_balance=D(50000),
        checked_on=date(2026, 11, 24),
        source="t",
        limits=RiskLimits(
            trailing_drawdown=TrailingDrawdown(
                amount=D(2000), basis=basis, stop_trailing_at_offset=D(stop_at) if stop_at else None
            )
        ),
    )


def test_end_of_day_trailing_moves_only_at_the_day_roll_and_locks_at_the_start() -> None:
    rules = RuleState(profile(TrailingBasis.END_OF_DAY_BALANCE))
    steps = [  # (time, balance, equity, expected floor)
        (T0, "50000", "50000", "48000"),
        (T0 + HOUR, "51000", "51500", "48000"),  # intraday gains do not move an end-of-day floor
        (T0 + DAY, "51000", "51000", "49000"),  # the day rolled with a 51,000 balance
        (T0 + 2 * DAY, "53000", "53000", "50000"),  # would be 51,000 but locks at the starting balance
        (T0 + 3 * DAY, "55000", "55000", "50000"),
    ]
    for ts, balance, equity, floor in steps:
        rules.update(ts, D(balance), D(equity))
        assert rules.trailing_floor() == D(floor), ts


def test_intraday_unrealised_trailing_follows_the_equity_peak_and_stops_at_start_plus_100() -> None:
    rules = RuleState(profile(TrailingBasis.INTRADAY_UNREALIZED, "100"))
    for equity, floor in (
        ("50500", "48500"),
        ("50200", "48500"),
        ("51800", "49800"),
        ("52500", "50100"),
        ("49000", "50100"),
    ):
        rules.update(T0, D(50000), D(equity))
        assert rules.trailing_floor() == D(floor)
    assert rules.breaches(D(50000), D(50050)) == ["trailing_drawdown"]


def test_topstep_daily_loss_is_a_soft_breach_flatten_and_lock_until_the_next_trading_day() -> None:
    # T0 is Wednesday 19:00 CT: the next trading day opens Thursday 17:00 CT = T0 + 22 h
    clock = ManualClock(T0)
    eng, f = engine(clock=clock), factory()
    eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.00"))
    eng.on_proposal(proposal(f, "topstep-50k-1", "MES.CME", OrderSide.BUY, "5"))
    out = eng.on_market_data(quote(f, "MES.CME", "4958.00", "4958.00"))  # -42 x 5 x 5 = -1,050 > 1,000 daily loss
    changed = [e for e in out if e.event_type == "trading_state_changed"]
    rt = eng.accounts["topstep-50k-1"]
    assert rt.state is TradingState.LOCKED_UNTIL and changed[0].reason == "daily_loss"  # not halted
    assert changed[0].locked_until_ns == T0 + 22 * 3600 * 10**9
    assert rt.account.positions["MES.CME"].quantity == 0  # flattened
    denied = eng.on_proposal(proposal(f, "topstep-50k-1", "MES.CME", OrderSide.BUY, "1"))
    assert denied[0].approved is False and denied[0].reasons[0].code == "trading_locked"
    clock.set(T0 + 22 * 3600 * 10**9)  # the next trading day opens: the lock lifts by itself
    reopened = eng.on_market_data(quote(factory(clock.now_ns()), "MES.CME", "4958.00", "4958.25"))
    assert rt.state is TradingState.ACTIVE
    assert any(e.event_type == "trading_state_changed" and e.reason == "soft_breach_lifted" for e in reopened)
    assert eng.on_proposal(proposal(factory(clock.now_ns()), "topstep-50k-1", "MES.CME", OrderSide.BUY, "1"))[
        0
    ].approved


def test_every_halt_or_lock_asks_the_service_once_to_cancel_the_accounts_orders_at_brokers() -> None:
    eng, f = engine(), factory()
    eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.00"))
    eng.on_proposal(proposal(f, "topstep-50k-1", "MES.CME", OrderSide.BUY, "5"))
    assert eng.take_stops() == {}
    eng.on_market_data(quote(f, "MES.CME", "4958.00", "4958.00"))  # the daily loss breached: locked
    assert eng.take_stops() == {"topstep-50k-1": "daily_loss"}
    assert eng.take_stops() == {}  # taken once
    eng.resume(None, "topstep-50k-1")
    assert eng.take_stops() == {}  # trading again: nothing to cancel
    eng.kill_switch(None, "apex-50k-1", flatten=False)
    assert eng.take_stops() == {"apex-50k-1": "kill_switch"}


def test_a_breach_cancels_the_accounts_resting_orders_so_none_reopens_the_flattened_position() -> None:
    eng, f = engine(), factory()
    eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.00"))
    eng.on_proposal(proposal(f, "topstep-50k-1", "MES.CME", OrderSide.BUY, "4"))
    limit = proposal(f, "topstep-50k-1", "MES.CME", OrderSide.BUY, "1", order_type=OrderType.LIMIT, limit="4940.00")
    resting = eng.on_proposal(limit)[1].client_order_id
    out = eng.on_market_data(quote(f, "MES.CME", "4947.00", "4947.00"))  # -53 x 5 x 4 = -1,060: breached
    types = [e.event_type for e in out]
    canceled = out[types.index("order_canceled")]
    assert (canceled.client_order_id, canceled.reason) == (resting, "daily_loss")
    assert types.index("trading_state_changed") < types.index("order_canceled") < types.index("fill")
    assert eng.venue.resting == {}
    later = eng.on_market_data(quote(f, "MES.CME", "4939.00", "4939.00"))  # through the canceled limit
    assert "fill" not in [e.event_type for e in later]
    assert eng.accounts["topstep-50k-1"].account.positions["MES.CME"].quantity == 0


def _venue_fill(spec: OrderSpec, *markets: Market):
    venue = SimVenue()
    from at_core.catalog import InstrumentCatalog

    inst = InstrumentCatalog().get("ES.CME")
    execs, outcome = venue.submit("o", inst, spec, markets[0])
    for m in markets[1:]:
        for update in venue.on_market("ES.CME", m):
            execs += update.executions
    return execs, outcome


def test_market_orders_fill_at_the_touch_and_walk_a_tick_past_the_displayed_size() -> None:
    execs, outcome = _venue_fill(
        OrderSpec(side=OrderSide.BUY, quantity=D(5)), Market(bid=D("5000"), ask=D("5000.25"), ask_size=D(3))
    )
    assert outcome == "filled" and [(e.quantity, e.price) for e in execs] == [(3, D("5000.25")), (2, D("5000.50"))]


def test_a_limit_rests_then_fills_at_its_price_on_a_bar_that_trades_through() -> None:
    spec = OrderSpec(side=OrderSide.BUY, quantity=D(1), order_type=OrderType.LIMIT, limit_price=D("4990"))
    execs, outcome = _venue_fill(
        spec,
        Market(bid=D("5000"), ask=D("5000.25")),
        Market(last=D("4995"), bar_open=D("5000"), bar_high=D("5001"), bar_low=D("4989")),
    )
    assert outcome is None and [(e.quantity, e.price, e.liquidity) for e in execs] == [(1, D("4990"), "maker")]


def test_a_stop_that_gaps_fills_at_the_open() -> None:
    spec = OrderSpec(side=OrderSide.SELL, quantity=D(1), order_type=OrderType.STOP_MARKET, stop_price=D("4990"))
    execs, _ = _venue_fill(
        spec,
        Market(bid=D("5000"), ask=D("5000.25")),
        Market(last=D("4975"), bar_open=D("4980"), bar_high=D("4985"), bar_low=D("4970")),
    )
    assert [e.price for e in execs] == [D("4980")]


def test_ioc_cancels_the_rest_and_fok_fills_all_or_nothing() -> None:
    m = Market(bid=D("5000"), ask=D("5000.25"), ask_size=D(2))
    ioc = OrderSpec(
        side=OrderSide.BUY,
        quantity=D(5),
        order_type=OrderType.LIMIT,
        limit_price=D("5000.25"),
        time_in_force=TimeInForce.IOC,
    )
    fok = ioc.model_copy(update={"time_in_force": TimeInForce.FOK, "limit_price": D("5000.00")})
    execs, outcome = _venue_fill(ioc, m)  # a marketable limit takes the displayed size up to its limit
    assert outcome == "canceled" and [(e.quantity, e.price) for e in execs] == [(2, D("5000.25"))]
    assert _venue_fill(fok, m) == ([], "canceled")


def test_a_market_order_without_a_price_is_rejected_not_invented() -> None:
    assert _venue_fill(OrderSpec(side=OrderSide.BUY, quantity=D(1)), Market()) == ([], "no_market_price")


def test_a_redelivered_proposal_yields_no_second_order() -> None:
    eng, f = engine(), factory()
    eng.on_market_data(quote(f, "MES.CME", "5000", "5000.25"))
    p = proposal(f, "paper-1", "MES.CME", OrderSide.BUY, "1")
    assert len(eng.on_proposal(p)) > 1
    assert eng.on_proposal(p) == []
    assert eng.accounts["paper-1"].account.positions["MES.CME"].quantity == 1


@pytest.mark.parametrize("seed", [1, 2])
def test_the_same_inputs_give_byte_identical_outputs(seed: int) -> None:
    def run() -> str:
        eng, f = engine(seed), factory()
        out = []
        for ev in [
            quote(f, "MES.CME", "5000", "5000.25"),
            proposal(f, "paper-1", "MES.CME", OrderSide.BUY, "2"),
            quote(f, "MES.CME", "5003", "5003.25"),
            proposal(f, "paper-1", "MES.CME", OrderSide.SELL, "2"),
        ]:
            out += eng.on_market_data(ev) if ev.event_type == "market_data" else eng.on_proposal(ev)
        return stream_sha256(out)

    assert run() == run()


def test_a_crash_between_the_decision_and_the_order_is_finished_after_recovery() -> None:
    eng, f = engine(), factory()
    q = quote(f, "MES.CME", "5000", "5000.25")
    eng.on_market_data(q)
    outputs = eng.on_proposal(proposal(f, "paper-1", "MES.CME", OrderSide.BUY, "1"))
    decision = outputs[0]
    restarted = engine()
    restarted.prime_market(q)
    restarted.recover(decision)  # only the decision was published before the crash
    resumed = restarted.resume_unfinished()
    assert [e.event_id for e in resumed] == [
        e.event_id for e in outputs[1:]
    ]  # byte-identical ids: JetStream de-duplicates
    assert restarted.accounts["paper-1"].account.positions["MES.CME"].quantity == 1
    assert restarted.resume_unfinished() == []
