"""Brackets at the simulated venue: children placed on the entry's fill, OCO, resized by partial
fills, a gap through the stop, trailing stops, orphans, restart and the risk checks."""

from __future__ import annotations

import dataclasses

from tests.helpers import D, engine, factory, proposal, quote

from at_core.events import (
    Event,
    FillEvent,
    OrderCanceled,
    OrderSubmitted,
    OrderUpdated,
    RiskDecisionEvent,
    TradeProposalEvent,
)
from at_core.models.brackets import BracketLevel, BracketRole, BracketSpec, BracketUnit, TrailingStop
from at_core.models.enums import OrderSide, OrderType
from at_core.serialization import decode_event, encode_event, stream_sha256
from at_exec_sim.domain.engine import ExecutionEngine

BUY, SELL = OrderSide.BUY, OrderSide.SELL
MES = "MES.CME"
ACCOUNT = "paper-1"


def bracketed(f, side: OrderSide, qty: str, bracket: BracketSpec, **kw) -> TradeProposalEvent:
    p = proposal(f, ACCOUNT, MES, side, qty, **kw)
    return p.model_copy(update={"order": p.order.model_copy(update={"bracket": bracket})})


def sl_tp(stop_ticks: int = 8, target_ticks: int = 16) -> BracketSpec:
    return BracketSpec(
        stop_loss=BracketLevel(value=D(stop_ticks), unit=BracketUnit.TICKS),
        take_profit=BracketLevel(value=D(target_ticks), unit=BracketUnit.TICKS),
    )


def children(events: list[Event]) -> dict[BracketRole, OrderSubmitted]:
    return {e.bracket_role: e for e in events if isinstance(e, OrderSubmitted) and e.bracket_role is not None}


def working(eng: ExecutionEngine) -> dict[str, tuple[str, D, D | None]]:
    """Resting orders at the venue: id -> (type, leaves, stop or limit)."""
    return {
        coid: (o.spec.order_type.value, o.leaves, o.spec.stop_price or o.spec.limit_price)
        for coid, o in eng.venue.resting.items()
    }


def test_an_entry_fill_places_a_reduce_only_stop_and_target_resolved_from_the_fill() -> None:
    eng, f = engine(), factory()
    eng.on_market_data(quote(f, MES, "5000.00", "5000.25"))
    out = eng.on_proposal(bracketed(f, BUY, "2", sl_tp()))
    kids = children(out)
    stop, target = kids[BracketRole.STOP_LOSS].order, kids[BracketRole.TAKE_PROFIT].order
    # filled at the ask 5000.25: stop 8 ticks below, target 16 above, both sells of 2, reduce-only
    assert (stop.order_type, stop.stop_price, stop.side, stop.quantity) == (
        OrderType.STOP_MARKET,
        D("4998.25"),
        SELL,
        D(2),
    )
    assert (target.order_type, target.limit_price, target.reduce_only) == (OrderType.LIMIT, D("5004.25"), True)
    parent = next(e for e in out if isinstance(e, RiskDecisionEvent)).client_order_id
    assert all(k.parent_client_order_id == parent for k in kids.values())
    accepted = [e for e in out if e.event_type == "order_accepted" and e.bracket_role is not None]
    assert len(accepted) == 2
    assert set(working(eng)) == {parent + ":sl", parent + ":tp"}


def test_the_stop_filling_cancels_the_target_and_the_position_is_flat() -> None:
    eng, f = engine(), factory()
    eng.on_market_data(quote(f, MES, "5000.00", "5000.25"))
    out = eng.on_proposal(bracketed(f, BUY, "2", sl_tp()))
    parent = next(e for e in out if isinstance(e, RiskDecisionEvent)).client_order_id
    out = eng.on_market_data(quote(f, MES, "4998.00", "4998.25"))
    fills = [e for e in out if isinstance(e, FillEvent)]
    assert [(x.bracket_role, x.quantity, x.price) for x in fills] == [(BracketRole.STOP_LOSS, D(2), D("4998.00"))]
    canceled = [e for e in out if isinstance(e, OrderCanceled)]
    assert [(c.client_order_id, c.reason, c.bracket_role) for c in canceled] == [
        (parent + ":tp", "oco", BracketRole.TAKE_PROFIT)
    ]
    assert eng.venue.resting == {}
    assert eng.accounts[ACCOUNT].account.positions[MES].quantity == 0


def test_a_gap_through_the_stop_fills_at_the_next_price_not_the_stop() -> None:
    eng, f = engine(), factory()
    eng.on_market_data(quote(f, MES, "5000.00", "5000.25"))
    eng.on_proposal(bracketed(f, BUY, "1", sl_tp()))
    out = eng.on_market_data(quote(f, MES, "4990.00", "4990.25"))  # gapped 33 ticks through 4998.25
    fill = next(e for e in out if isinstance(e, FillEvent))
    assert (fill.bracket_role, fill.price) == (BracketRole.STOP_LOSS, D("4990.00"))


def test_a_partial_entry_fill_sizes_the_children_and_the_rest_resizes_them() -> None:
    eng, f = engine(), factory()
    eng.on_market_data(quote(f, MES, "5000.00", "5000.25", size="1"))
    out = eng.on_proposal(bracketed(f, BUY, "3", sl_tp(), order_type=OrderType.LIMIT, limit="5000.25"))
    kids = children(out)
    assert {r: k.order.quantity for r, k in kids.items()} == {BracketRole.STOP_LOSS: 1, BracketRole.TAKE_PROFIT: 1}
    out = eng.on_market_data(quote(f, MES, "5000.00", "5000.25", size="5"))
    updates = [e for e in out if isinstance(e, OrderUpdated)]
    assert [(u.bracket_role, u.quantity, u.reason) for u in updates] == [
        (BracketRole.STOP_LOSS, D(3), "entry_fill"),
        (BracketRole.TAKE_PROFIT, D(3), "entry_fill"),
    ]
    assert sorted(leaves for _, leaves, _ in working(eng).values()) == [3, 3]


def test_the_target_filling_in_part_shrinks_the_stop_and_in_full_cancels_it() -> None:
    eng, f = engine(), factory()
    eng.on_market_data(quote(f, MES, "5000.00", "5000.25"))
    eng.on_proposal(bracketed(f, BUY, "3", sl_tp()))
    out = eng.on_market_data(quote(f, MES, "5004.25", "5004.50", size="1"))  # the target takes 1 of 3
    update = next(e for e in out if isinstance(e, OrderUpdated))
    assert (update.bracket_role, update.quantity, update.reason) == (BracketRole.STOP_LOSS, D(2), "position")
    out = eng.on_market_data(quote(f, MES, "5004.50", "5004.75", size="5"))
    canceled = next(e for e in out if isinstance(e, OrderCanceled))
    assert (canceled.bracket_role, canceled.reason) == (BracketRole.STOP_LOSS, "oco")
    assert eng.accounts[ACCOUNT].account.positions[MES].quantity == 0


def test_a_child_left_resting_after_its_position_closed_is_cancelled_as_an_orphan() -> None:
    eng, f = engine(), factory()
    eng.on_market_data(quote(f, MES, "5000.00", "5000.25"))
    eng.on_proposal(bracketed(f, BUY, "1", sl_tp()))
    out = eng.on_proposal(proposal(f, ACCOUNT, MES, SELL, "1"))  # closed by hand
    canceled = [e for e in out if isinstance(e, OrderCanceled)]
    assert sorted((c.bracket_role, c.reason) for c in canceled) == [
        (BracketRole.STOP_LOSS, "orphan"),
        (BracketRole.TAKE_PROFIT, "orphan"),
    ]
    assert eng.venue.resting == {}


def test_a_trailing_stop_follows_the_best_price_and_never_loosens() -> None:
    eng, f = engine(), factory()
    eng.on_market_data(quote(f, MES, "5000.00", "5000.25"))
    out = eng.on_proposal(bracketed(f, BUY, "1", BracketSpec(trailing_stop=TrailingStop(distance=D(8)))))
    assert children(out)[BracketRole.STOP_LOSS].order.stop_price == D("4998.25")
    out = eng.on_market_data(quote(f, MES, "5003.00", "5003.25"))  # best bid 5003.00: stop to 5001.00
    update = next(e for e in out if isinstance(e, OrderUpdated))
    assert (update.stop_price, update.reason) == (D("5001.00"), "trailing")
    dip = eng.on_market_data(quote(f, MES, "5002.00", "5002.25"))
    assert not [e for e in dip if isinstance(e, OrderUpdated)]  # a dip: the stop stays
    out = eng.on_market_data(quote(f, MES, "5000.75", "5001.00"))
    fill = next(e for e in out if isinstance(e, FillEvent))
    assert (fill.bracket_role, fill.price) == (BracketRole.STOP_LOSS, D("5000.75"))


def test_a_restart_rebuilt_from_the_published_events_keeps_the_children_and_their_oco() -> None:
    eng, f = engine(), factory()
    first = eng.on_market_data(quote(f, MES, "5000.00", "5000.25"))
    published: list[Event] = [
        *first,
        *eng.on_proposal(bracketed(f, BUY, "2", sl_tp(), order_type=OrderType.LIMIT, limit="5000.25")),
    ]
    published += eng.on_market_data(quote(f, MES, "5001.00", "5001.25", size="1"))
    restarted = engine()
    restarted.prime_market(quote(f, MES, "5001.00", "5001.25"))
    for event in published:
        restarted.recover(decode_event(encode_event(event)))
    assert working(restarted) == working(eng)
    # the target fills after the restart: the restarted engine cancels the stop, as the first would
    after = restarted.on_market_data(quote(f, MES, "5004.25", "5004.50"))
    canceled = next(e for e in after if isinstance(e, OrderCanceled))
    assert (canceled.bracket_role, canceled.reason) == (BracketRole.STOP_LOSS, "oco")
    assert restarted.venue.resting == {}


def test_a_bracket_run_replays_byte_identically() -> None:
    def run() -> str:
        eng, f = engine(), factory()
        out = eng.on_market_data(quote(f, MES, "5000.00", "5000.25", size="1"))
        out += eng.on_proposal(bracketed(f, BUY, "2", sl_tp(), order_type=OrderType.LIMIT, limit="5000.25"))
        for bid in ("5000.00", "5001.00", "4997.00"):
            out += eng.on_market_data(quote(f, MES, bid, str(D(bid) + D("0.25"))))
        return stream_sha256(out)

    assert run() == run()


def _require_stop(eng: ExecutionEngine) -> None:
    rt = eng.accounts[ACCOUNT]
    profile = rt.config.profile
    limits = profile.limits.model_copy(update={"require_stop": True})
    rt.config = dataclasses.replace(rt.config, profile=profile.model_copy(update={"limits": limits}))


def test_a_profile_that_requires_a_stop_denies_an_entry_without_one() -> None:
    eng, f = engine(), factory()
    _require_stop(eng)
    eng.on_market_data(quote(f, MES, "5000.00", "5000.25"))
    decision = eng.on_proposal(proposal(f, ACCOUNT, MES, BUY, "1"))[0]
    assert isinstance(decision, RiskDecisionEvent) and not decision.approved
    assert [r.code for r in decision.reasons] == ["stop_required"]
    approved = eng.on_proposal(bracketed(f, BUY, "1", sl_tp()))[0]
    assert isinstance(approved, RiskDecisionEvent) and approved.approved


def test_a_bracket_that_cannot_work_at_the_market_is_denied() -> None:
    eng, f = engine(), factory()
    eng.on_market_data(quote(f, MES, "5000.00", "5000.25"))
    bad = BracketSpec(stop_loss=BracketLevel(value=D("5001.00")))  # a buy's stop above the market
    decision = eng.on_proposal(bracketed(f, BUY, "1", bad))[0]
    assert isinstance(decision, RiskDecisionEvent) and not decision.approved
    assert "bracket_invalid" in [r.code for r in decision.reasons]


def test_the_projected_loss_uses_the_brackets_actual_stop() -> None:
    """A wide bracket stop projects a loss past the daily limit; the same entry with a tight one passes."""
    eng, f = engine(), factory()
    eng.on_market_data(quote(f, MES, "5000.00", "5000.25"))
    account = "topstep-50k-1"  # the shipped Topstep 50K account: a daily loss limit
    limit = eng.accounts[account].config.profile.limits.daily_loss
    assert limit is not None
    points = limit.amount / 5 + 10  # MES: 5 USD a point; past the daily loss by 10 points a contract
    wide = BracketSpec(stop_loss=BracketLevel(value=points, unit=BracketUnit.POINTS))

    def decide(bracket: BracketSpec) -> RiskDecisionEvent:
        p = proposal(f, account, MES, BUY, "1")
        p = p.model_copy(update={"order": p.order.model_copy(update={"bracket": bracket})})
        decision = eng.on_proposal(p)[0]
        assert isinstance(decision, RiskDecisionEvent)
        return decision

    denied = decide(wide)
    assert "projected_daily_loss" in [r.code for r in denied.reasons]
    assert decide(sl_tp()).approved


def test_two_brackets_on_one_position_never_protect_more_than_it_holds() -> None:
    """Reduce-only: after a manual partial close, the children of two entries together cover only what is held."""
    eng, f = engine(), factory()
    eng.on_market_data(quote(f, MES, "5000.00", "5000.25"))
    eng.on_proposal(bracketed(f, BUY, "1", sl_tp()))
    eng.on_proposal(bracketed(f, BUY, "1", sl_tp(stop_ticks=12)))
    eng.on_proposal(proposal(f, ACCOUNT, MES, SELL, "1"))  # one of the two closed by hand
    stops = [leaves for kind, leaves, _ in working(eng).values() if kind == "stop_market"]
    assert sum(stops) == 1
    eng.on_market_data(quote(f, MES, "4990.00", "4990.25"))  # through both stops
    assert eng.accounts[ACCOUNT].account.positions[MES].quantity == 0  # flat, never flipped short


def test_a_bracket_for_a_venue_that_places_none_is_denied_not_sent_naked() -> None:
    eng, f = engine(), factory()
    rt = eng.accounts[ACCOUNT]
    rt.config = dataclasses.replace(rt.config, venue="ACME")  # not marked brackets_at_venue (bootstrap marks brokers)
    eng.on_market_data(quote(f, MES, "5000.00", "5000.25"))
    decision = eng.on_proposal(bracketed(f, BUY, "1", sl_tp()))[0]
    assert isinstance(decision, RiskDecisionEvent) and not decision.approved
    assert [r.code for r in decision.reasons] == ["bracket_invalid"]
