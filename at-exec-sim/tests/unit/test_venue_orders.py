"""The simulated venue, order by order: limits walking displayed size, IOC/FOK, stops on bars,
slippage at the fill, latency for orders and cancels. Pure: no engine, no clock."""

from __future__ import annotations

import pytest
from tests.helpers import D

from at_core.catalog import InstrumentCatalog
from at_core.models.enums import OrderSide, OrderType, TimeInForce
from at_core.models.orders import OrderSpec
from at_exec_sim.domain.venue import MAX_WALK_LEVELS, Market, SimVenue
from at_exec_sim.domain.venue_models import (
    FixedTicks,
    LatencyModel,
    NoSlippage,
    SlippageModel,
    SpreadSlippage,
    VolumeShareSlippage,
)

ES = InstrumentCatalog().get("ES.CME")
BUY, SELL = OrderSide.BUY, OrderSide.SELL
BOOK = Market(bid=D("5000.00"), ask=D("5000.25"), bid_size=D(2), ask_size=D(2))


def limit(side: OrderSide, qty: int, price: str, tif: TimeInForce = TimeInForce.GTC) -> OrderSpec:
    return OrderSpec(side=side, quantity=D(qty), order_type=OrderType.LIMIT, limit_price=D(price), time_in_force=tif)


def fills(execs) -> list[tuple[int, str]]:
    """(quantity, price) per execution, the price written at ES's tick (5000.50, 4980.00)."""
    return [(int(e.quantity), str(ES.round_price(e.price))) for e in execs]


def test_a_buy_limit_walks_the_displayed_size_and_rests_the_rest() -> None:
    venue = SimVenue()
    execs, outcome = venue.submit("o", ES, limit(BUY, 5, "5000.50"), BOOK)
    # 2 at the touch, 2 a tick up at its limit; 5000.75 is past the limit: 1 rests
    assert outcome is None and fills(execs) == [(2, "5000.25"), (2, "5000.50")]
    assert venue.resting["o"].leaves == 1
    updates = venue.on_market("ES.CME", Market(bid=D("5000.25"), ask=D("5000.50"), ask_size=D(10)))
    assert [(u.kind, fills(u.executions)) for u in updates] == [("fill", [(1, "5000.50")])]
    assert venue.resting == {}


def test_a_sell_limit_walks_down_the_bid_to_its_limit() -> None:
    execs, outcome = SimVenue().submit("o", ES, limit(SELL, 5, "4999.75"), BOOK)
    assert outcome is None and fills(execs) == [(2, "5000.00"), (2, "4999.75")]


def test_a_market_sell_bigger_than_the_book_never_fills_at_zero_and_the_rest_is_canceled() -> None:
    # a million against a displayed 2 a tick: walking one tick per 2 would reach a price of 0
    cheap = Market(bid=D("1.00"), ask=D("1.25"), bid_size=D(2), ask_size=D(2))
    market = OrderSpec(side=SELL, quantity=D(1_000_000), order_type=OrderType.MARKET)
    execs, outcome = SimVenue().submit("o", ES, market, cheap)
    assert outcome == "canceled" and execs
    assert all(e.price > 0 for e in execs) and fills(execs)[-1] == (2, "0.25")  # the last tick above 0


def test_a_walk_stops_after_max_walk_levels_ticks() -> None:
    market = OrderSpec(side=BUY, quantity=D(1_000_000), order_type=OrderType.MARKET)
    execs, outcome = SimVenue().submit("o", ES, market, BOOK)
    assert outcome == "canceled" and len(execs) == MAX_WALK_LEVELS
    assert sum(e.quantity for e in execs) == 2 * MAX_WALK_LEVELS


def test_a_resting_residual_does_not_fill_twice_on_the_market_that_met_it_in_flight() -> None:
    venue = SimVenue(latency=LatencyModel(submit_ns=10))
    assert venue.submit("o", ES, limit(BUY, 5, "5000.25"), BOOK, now_ns=0) == ([], "pending")
    updates = venue.on_market("ES.CME", BOOK, now_ns=10)
    # it arrives, takes the 2 displayed and rests 3: the same book does not fill it again
    assert [(u.kind, fills(u.executions), u.outcome) for u in updates] == [("arrived", [(2, "5000.25")], None)]
    assert venue.resting["o"].leaves == 3


@pytest.mark.parametrize(
    ("spec", "expected_fills", "outcome"),
    [
        # IOC: takes the 2 at its limit, cancels the other 3
        (limit(BUY, 5, "5000.25", TimeInForce.IOC), [(2, "5000.25")], "canceled"),
        # IOC not marketable: nothing, canceled
        (limit(BUY, 5, "5000.00", TimeInForce.IOC), [], "canceled"),
        # FOK: 4 of 5 reachable up to 5000.50 is not all: nothing
        (limit(BUY, 5, "5000.50", TimeInForce.FOK), [], "canceled"),
        # FOK: all 4 reachable up to 5000.50: all of it
        (limit(BUY, 4, "5000.50", TimeInForce.FOK), [(2, "5000.25"), (2, "5000.50")], "filled"),
        # DAY and GTC rest what they cannot fill now
        (limit(BUY, 5, "5000.25", TimeInForce.DAY), [(2, "5000.25")], None),
        (limit(BUY, 1, "4999.00", TimeInForce.GTC), [], None),
        # a market order walks a tick per displayed size, without a limit
        (OrderSpec(side=BUY, quantity=D(5)), [(2, "5000.25"), (2, "5000.50"), (1, "5000.75")], "filled"),
    ],
)
def test_time_in_force_decides_what_happens_to_what_cannot_fill_now(
    spec: OrderSpec, expected_fills: list, outcome: str | None
) -> None:
    execs, got = SimVenue().submit("o", ES, spec, BOOK)
    assert (fills(execs), got) == (expected_fills, outcome)


def stop(side: OrderSide, price: str) -> OrderSpec:
    return OrderSpec(side=side, quantity=D(1), order_type=OrderType.STOP_MARKET, stop_price=D(price))


def bar(o: str, h: str, low: str, c: str) -> Market:
    return Market(last=D(c), bar_open=D(o), bar_high=D(h), bar_low=D(low), volume=D(1000))


@pytest.mark.parametrize(
    ("spec", "path", "expected"),
    [
        # a sell stop at 4990: the bar gaps down to open at 4980: fills at the open
        (stop(SELL, "4990"), bar("4980", "4985", "4970", "4975"), [(1, "4980.00")]),
        # the bar trades down through the stop without a gap: fills at the stop
        (stop(SELL, "4990"), bar("4995", "4998", "4985", "4987"), [(1, "4990.00")]),
        # the bar stays above the stop: nothing
        (stop(SELL, "4990"), bar("4995", "4998", "4991", "4993"), []),
        # a buy stop at 5010: the bar gaps up to 5020: fills at the open
        (stop(BUY, "5010"), bar("5020", "5025", "5015", "5022"), [(1, "5020.00")]),
        # a buy stop reached intrabar: at the stop
        (stop(BUY, "5010"), bar("5005", "5012", "5001", "5008"), [(1, "5010.00")]),
    ],
)
def test_a_stop_on_a_bar_path_fills_at_the_open_when_the_bar_gaps_through_it(
    spec: OrderSpec, path: Market, expected: list
) -> None:
    venue = SimVenue()
    assert venue.submit("o", ES, spec, Market(bid=D("5000"), ask=D("5000.25"))) == ([], None)
    updates = venue.on_market("ES.CME", path)
    assert [f for u in updates for f in fills(u.executions)] == expected


@pytest.mark.parametrize(
    ("slippage", "side", "market", "expected"),
    [
        (NoSlippage(), BUY, BOOK, "5000.25"),
        # 1 tick against the taker, each way
        (FixedTicks(D(1)), BUY, BOOK, "5000.50"),
        (FixedTicks(D(1)), SELL, BOOK, "4999.75"),
        # 0.3 x the 0.25 spread = 0.075: rounded to the tick against the taker
        (SpreadSlippage(D("0.3")), BUY, BOOK, "5000.50"),
        (SpreadSlippage(D("0.3")), SELL, BOOK, "4999.75"),
        # on a bar of 1,000: 1 / 1,000 = 0.001; 0.001^2 x 0.1 x 4975 = 0.0000004975: a tick up
        (VolumeShareSlippage(), BUY, bar("4980", "4985", "4970", "4975"), "4975.25"),
        # 1 of a displayed 2 is capped at 0.025: 0.025^2 x 0.1 x 5000 = 0.3125: 2 ticks down
        (VolumeShareSlippage(), SELL, BOOK, "4999.50"),
    ],
)
def test_a_market_order_pays_the_slippage_rounded_to_the_tick_against_it(
    slippage: SlippageModel, side: OrderSide, market: Market, expected: str
) -> None:
    execs, outcome = SimVenue(slippage=slippage).submit("o", ES, OrderSpec(side=side, quantity=D(1)), market)
    assert outcome == "filled" and fills(execs) == [(1, expected)]


def test_slippage_never_takes_a_limit_past_its_price() -> None:
    execs, _ = SimVenue(slippage=FixedTicks(D(4))).submit("o", ES, limit(BUY, 1, "5000.50"), BOOK)
    assert fills(execs) == [(1, "5000.50")]


def test_an_order_in_flight_fills_against_the_market_at_its_arrival() -> None:
    venue = SimVenue(latency=LatencyModel(submit_ns=100))
    assert venue.submit("o", ES, OrderSpec(side=BUY, quantity=D(1)), BOOK, now_ns=1_000) == ([], "pending")
    assert venue.on_market("ES.CME", BOOK, now_ns=1_099) == []  # still in flight
    moved = Market(bid=D("5001.75"), ask=D("5002.00"), ask_size=D(5))
    updates = venue.on_market("ES.CME", moved, now_ns=1_100)
    assert [(u.kind, fills(u.executions), u.outcome) for u in updates] == [("arrived", [(1, "5002.00")], "filled")]
    assert venue.inflight == {}


def test_a_cancel_that_arrives_before_the_order_cancels_it_unfilled() -> None:
    venue = SimVenue(latency=LatencyModel(submit_ns=100, cancel_ns=10))
    venue.submit("o", ES, OrderSpec(side=BUY, quantity=D(1)), BOOK, now_ns=0)
    assert venue.cancel("o", now_ns=5) is not None  # takes effect at 15, before the order's 100
    updates = venue.on_market("ES.CME", BOOK, now_ns=100)
    assert [(u.kind, u.executions) for u in updates] == [("canceled", ())]
    assert venue.inflight == {} and venue.resting == {}


def test_a_cancel_that_arrives_after_the_order_cancels_what_rests() -> None:
    venue = SimVenue(latency=LatencyModel(submit_ns=10, cancel_ns=50))
    venue.submit("o", ES, limit(BUY, 3, "5000.25"), BOOK, now_ns=0)
    venue.cancel("o", now_ns=5)  # arrives at 55, after the order's 10
    first = venue.on_market("ES.CME", BOOK, now_ns=10)
    assert [(u.kind, fills(u.executions)) for u in first] == [("arrived", [(2, "5000.25")])]
    assert venue.expire(54, lambda o: None) == []
    assert [u.kind for u in venue.expire(55, lambda o: None)] == ["canceled"]
    assert venue.resting == {}


def test_an_unknown_order_cannot_be_canceled() -> None:
    assert SimVenue().cancel("never") is None
