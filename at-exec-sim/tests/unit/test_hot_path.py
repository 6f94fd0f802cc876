"""What the quote's hot path may skip, and what it must still see: the accounts holding the
instrument (an account added later, a position opened later), and an instrument a venue
replaced after it was looked up."""

from __future__ import annotations

from tests.helpers import T0, D, engine, factory, proposal, quote

from at_core.events import AccountStateEvent
from at_core.models.enums import OrderSide
from at_exec_sim.domain.accounts import AccountConfig
from at_exec_sim.domain.portfolio import Account
from at_exec_sim.domain.records import AccountRuntime
from at_exec_sim.domain.rules import RuleState

ES = "ES.CME"
MS = 1_000_000


def marked(out: list) -> list[str]:
    return [e.account_id for e in out if isinstance(e, AccountStateEvent)]


def test_a_quote_marks_the_holders_of_its_instrument_only_including_ones_added_later() -> None:
    eng, f = engine(), factory()
    eng.on_market_data(quote(f, ES, "5000.00", "5000.25"))
    assert marked(eng.on_market_data(quote(f, ES, "5000.00", "5000.25"))) == []  # nobody holds ES

    eng.on_proposal(proposal(f, "paper-1", ES, OrderSide.BUY, "1"))
    eng.clock.advance_to(T0 + MS)
    assert marked(eng.on_market_data(quote(f, ES, "5001.00", "5001.25"))) == ["paper-1"]
    assert marked(eng.on_market_data(quote(f, "NQ.CME", "18000.00", "18000.25"))) == []  # another instrument

    profile = eng.accounts["paper-1"].config.profile
    start = profile.starting_balance
    eng.accounts["late-1"] = AccountRuntime(
        AccountConfig("late-1", profile), Account("late-1", profile.currency, start, start), RuleState(profile)
    )
    assert marked(eng.on_market_data(quote(f, ES, "5001.00", "5001.25"))) == ["paper-1"]  # late-1 holds nothing
    eng.on_proposal(proposal(f, "late-1", ES, OrderSide.SELL, "2"))
    out = eng.on_market_data(quote(f, ES, "5002.00", "5002.25"))
    assert marked(out) == ["paper-1", "late-1"]  # in account order, the late position marked
    assert eng.accounts["late-1"].account.positions[ES].last_price == D("5002.125")


def test_a_flat_holder_keeps_its_mark_but_publishes_no_account_state() -> None:
    eng, f = engine(), factory()
    eng.on_market_data(quote(f, ES, "5000.00", "5000.25"))
    eng.on_proposal(proposal(f, "paper-1", ES, OrderSide.BUY, "1"))
    eng.on_proposal(proposal(f, "paper-1", ES, OrderSide.SELL, "1"))
    assert marked(eng.on_market_data(quote(f, ES, "5003.00", "5003.25"))) == []
    assert eng.accounts["paper-1"].account.positions[ES].last_price == D("5003.125")


def test_an_instrument_a_venue_adds_replaces_the_one_looked_up_before() -> None:
    eng = engine()
    before = eng.instrument(ES)
    replaced = before.model_copy(update={"min_quantity": D(2)})
    eng.add_instrument(replaced)
    assert eng.instrument(ES).min_quantity == D(2)
    assert eng.ctx.instrument(ES) is replaced


def test_a_quotes_market_is_the_one_the_dataclass_builds() -> None:
    from at_exec_sim.domain.venue import Market

    fast = Market.of_quote(D("1.5"), D("1.75"), D(3), D(4), D("1.6"))
    assert fast == Market(bid=D("1.5"), ask=D("1.75"), bid_size=D(3), ask_size=D(4), last=D("1.6"))
    assert repr(fast) == repr(Market(bid=D("1.5"), ask=D("1.75"), bid_size=D(3), ask_size=D(4), last=D("1.6")))
    assert fast.mid == D("1.625") and hash(fast) == hash(Market(D("1.5"), D("1.75"), D(3), D(4), D("1.6")))


def test_every_cancel_is_in_the_engines_cancel_feed_once_in_the_order_canceled() -> None:
    """The venue router reads the cancels since it last looked (``canceled_from``), not every order."""
    from at_core.models.enums import OrderStatus, OrderType

    eng, f = engine(), factory()
    eng.on_market_data(quote(f, ES, "5000.00", "5000.25"))
    for price in ("4990.00", "4980.00"):  # two buy limits below the market: both rest
        eng.on_proposal(proposal(f, "paper-1", ES, OrderSide.BUY, "1", order_type=OrderType.LIMIT, limit=price))
    resting = [r.client_order_id for r in eng.orders.values() if r.status is OrderStatus.ACCEPTED]
    assert len(resting) == 2 and eng.canceled_from(0) == []

    eng.kill_switch(None, "paper-1", flatten=True)  # the flatten cancels both at the simulated venue
    assert [r.client_order_id for r in eng.canceled_from(0)] == resting
    assert eng.canceled_from(2) == [] and all(r.status is OrderStatus.CANCELED for r in eng.canceled_from(0))


def test_rule_floors_kept_between_marks_follow_a_new_peak_or_day_start_even_of_equal_value() -> None:
    """The floors are computed again when the peak or the day's start is another Decimal, even an
    equal one: 50000 and 50000.00 are equal, but the floors they give print differently."""
    from at_exec_sim.domain.accounts import load_profiles

    profile = next(p for p in load_profiles().values() if p.limits.trailing_drawdown and p.limits.daily_loss)
    rules = RuleState(profile)
    start = profile.starting_balance
    first = {h.rule: h.floor for h in rules.headroom(start, start)}
    assert {h.rule: h.floor for h in rules.headroom(start, start - 10)} == first  # a mark: the same floors
    rules.peak = start + 100
    moved = {h.rule: h.floor for h in rules.headroom(start, start)}
    assert moved["trailing_drawdown"] == rules.trailing_floor() != first["trailing_drawdown"]
    rules.day_start_balance = rules.day_start_equity = D(str(start)).quantize(D("0.001"))
    floors = {h.rule: str(h.floor) for h in rules.headroom(start, start)}
    assert floors["daily_loss"] == str(rules.daily_floor())  # the new start's digits, not the kept floor's
