"""The order lifecycle through the engine over time: in-flight orders, partial fills over several
market events, DAY and GTD expiry, trading-day rolls, byte-identical replays with jitter."""

from __future__ import annotations

import random

import pytest
from tests.helpers import T0, D, engine, factory, proposal, quote

from at_core.clock import ManualClock
from at_core.events import Event, Heartbeat
from at_core.models.enums import OrderSide, OrderType, TimeInForce
from at_core.serialization import stream_sha256
from at_exec_sim.domain.venue_models import LatencyModel

HOUR = 3600 * 10**9
DAY_END = T0 + 22 * HOUR  # T0 is 19:00 Chicago; the trading day ends at 17:00 Chicago the next day
BUY = OrderSide.BUY


def kinds(events: list[Event]) -> list[str]:
    return [e.event_type for e in events]


def orders_only(events: list[Event]) -> list[Event]:
    """Without the prop accounts' session cutoffs, which the clock crosses too (test_sessions.py)."""
    return [e for e in events if e.event_type != "trading_state_changed"]


def tick(f):
    return f.make(Heartbeat, service="exec_sim", instance="0")


def test_an_order_in_flight_fills_against_the_market_at_its_arrival() -> None:
    clock = ManualClock(T0)
    eng, f = engine(latency=LatencyModel(submit_ns=50), clock=clock), factory()
    eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.25"))
    out = eng.on_proposal(proposal(f, "paper-1", "MES.CME", BUY, "1"))
    assert kinds(out) == ["risk_decision", "order_submitted"]  # in flight: nothing at the venue yet
    clock.advance(49)
    assert kinds(eng.on_market_data(quote(f, "MES.CME", "5001.00", "5001.25"))) == []
    clock.advance(1)
    out = eng.on_market_data(quote(f, "MES.CME", "5002.00", "5002.25"))
    assert kinds(out)[:4] == ["order_accepted", "fill", "position", "order_filled"]
    fill = out[1]
    # at the arrival's ask; the slippage is measured from the mid when it was sent (5000.125)
    assert fill.price == D("5002.25") and fill.slippage_ticks == D("8.5")
    assert eng.orders[fill.client_order_id].status == "filled"


def test_a_buy_limit_walks_the_displayed_size_and_the_residual_fills_on_later_quotes() -> None:
    eng, f = engine(), factory()
    eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.25", size="2"))
    out = eng.on_proposal(proposal(f, "paper-1", "MES.CME", BUY, "6", order_type=OrderType.LIMIT, limit="5000.50"))
    assert kinds(out)[:9] == [
        "risk_decision",
        "order_submitted",
        "order_accepted",
        "fill",
        "position",
        "fill",
        "position",
        "order_partially_filled",
        "account_state",
    ]
    assert [(x.quantity, x.price) for x in out if x.event_type == "fill"] == [(2, D("5000.25")), (2, D("5000.50"))]
    assert out[7].leaves_quantity == 2
    fills = [x for x in out if x.event_type == "fill"]
    for _ in range(2):  # the residual fills 1 at a time over two quotes
        later = eng.on_market_data(quote(f, "MES.CME", "5000.25", "5000.50", size="1"))
        fills += [x for x in later if x.event_type == "fill"]
    assert kinds(later)[:3] == ["fill", "position", "order_filled"]
    assert [x.leaves_quantity for x in fills] == [4, 2, 1, 0]
    # each fill has its own ids, even when one order fills over several market events
    assert len({x.event_id for x in fills}) == len({x.trade_id for x in fills}) == 4
    assert eng.accounts["paper-1"].account.positions["MES.CME"].quantity == 6


@pytest.mark.parametrize(
    ("tif", "expire_ns", "still_resting_at", "expired_at"),
    [
        # DAY: its trading day ends at 17:00 Chicago
        (TimeInForce.DAY, None, DAY_END - 1, DAY_END),
        # GTD: at its expiry time
        (TimeInForce.GTD, T0 + HOUR, T0 + HOUR - 1, T0 + HOUR),
    ],
)
def test_a_resting_order_expires_at_the_end_of_its_day_or_at_its_expiry(
    tif: TimeInForce, expire_ns: int | None, still_resting_at: int, expired_at: int
) -> None:
    clock = ManualClock(T0)
    eng, f = engine(clock=clock), factory()
    eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.25"))
    p = proposal(
        f, "paper-1", "MES.CME", BUY, "1", order_type=OrderType.LIMIT, limit="4990", tif=tif, expire_ns=expire_ns
    )
    coid = eng.on_proposal(p)[1].client_order_id
    clock.set(still_resting_at)
    assert orders_only(eng.on_timer(tick(f))) == [] and list(eng.venue.resting) == [coid]
    clock.set(expired_at)
    out = orders_only(eng.on_timer(tick(f)))
    assert kinds(out) == ["order_expired"] and out[0].client_order_id == coid and out[0].ts_event == expired_at
    assert eng.venue.resting == {} and eng.orders[coid].status == "expired"


def test_market_data_after_the_day_ends_expires_a_day_order_too() -> None:
    clock = ManualClock(T0)
    eng, f = engine(clock=clock), factory()
    eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.25"))
    eng.on_proposal(
        proposal(f, "paper-1", "MES.CME", BUY, "1", order_type=OrderType.LIMIT, limit="4990", tif=TimeInForce.DAY)
    )
    clock.set(DAY_END)
    assert kinds(orders_only(eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.25")))) == ["order_expired"]


def test_a_gtc_order_does_not_expire() -> None:
    clock = ManualClock(T0)
    eng, f = engine(clock=clock), factory()
    eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.25"))
    eng.on_proposal(proposal(f, "paper-1", "MES.CME", BUY, "1", order_type=OrderType.LIMIT, limit="4990"))
    clock.set(T0 + 30 * 24 * HOUR)
    assert orders_only(eng.on_timer(tick(f))) == [] and len(eng.venue.resting) == 1


def test_todays_pnl_and_fees_restart_when_the_trading_day_rolls() -> None:
    clock = ManualClock(T0)
    eng, f = engine(clock=clock), factory()
    eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.00"))
    eng.on_proposal(proposal(f, "topstep-50k-1", "MES.CME", BUY, "1"))
    eng.on_market_data(quote(f, "MES.CME", "5010.00", "5010.00"))
    eng.on_proposal(proposal(f, "topstep-50k-1", "MES.CME", OrderSide.SELL, "1"))
    rt = eng.accounts["topstep-50k-1"]
    assert rt.account.realized_today == D(50)  # +10 points x 5
    clock.set(DAY_END)
    eng.on_timer(tick(f))
    assert rt.account.realized_today == 0 and rt.account.balance == D(50050)
    assert rt.rules.day_start_balance == D(50050) and rt.rules.daily_floor() == D(49050)


def test_the_same_inputs_and_seed_give_byte_identical_orders_and_fills_with_jitter() -> None:
    def run(seed: int) -> tuple[str, list]:
        clock = ManualClock(T0)
        latency = LatencyModel(submit_ns=100, jitter_ns=1_000, rng=random.Random(seed))
        eng, f = engine(latency=latency, clock=clock), factory()
        out: list[Event] = []
        for i in range(6):
            clock.advance(300)
            out += eng.on_market_data(quote(f, "MES.CME", f"{5000 + i}.00", f"{5000 + i}.25"))
            out += eng.on_proposal(proposal(f, "paper-1", "MES.CME", BUY, "1"))
        clock.advance(2_000)
        out += eng.on_market_data(quote(f, "MES.CME", "5010.00", "5010.25"))
        return stream_sha256(out), [x.price for x in out if x.event_type == "fill"]

    digest, prices = run(3)
    assert run(3) == (digest, prices) and len(prices) == 6
    assert run(4) != (digest, prices)  # other delays: other arrival quotes


def test_a_fill_on_a_later_market_event_carries_that_events_time_not_the_submissions() -> None:
    clock = ManualClock(T0)
    eng, f = engine(clock=clock), factory()
    eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.25"))
    p = proposal(f, "paper-1", "MES.CME", BUY, "1", order_type=OrderType.LIMIT, limit="4999.00")
    submitted = eng.on_proposal(p)[1]
    assert submitted.ts_event == T0
    later = T0 + 5 * 10**9
    clock.set(later)  # the service's clock: the market event's time in replay, the wall in live mode
    out = eng.on_market_data(quote(factory(later), "MES.CME", "4998.75", "4999.00"))
    assert kinds(out)[:4] == ["fill", "position", "order_filled", "account_state"]
    assert [e.ts_event for e in out[:4]] == [later] * 4
    fill = out[0]
    assert fill.ts_event - fill.signal_ts_event == 5 * 10**9  # signal to fill: the 5 s it rested


def test_an_order_in_flight_is_accepted_and_filled_at_its_arrival_time() -> None:
    clock = ManualClock(T0)
    eng, f = engine(latency=LatencyModel(submit_ns=50), clock=clock), factory()
    eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.25"))
    eng.on_proposal(proposal(f, "paper-1", "MES.CME", BUY, "1"))
    clock.advance(50)
    out = eng.on_market_data(quote(factory(T0 + 50), "MES.CME", "5000.00", "5000.25"))
    assert kinds(out)[:2] == ["order_accepted", "fill"]
    assert out[0].ts_event == out[1].ts_event == T0 + 50
