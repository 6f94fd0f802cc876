"""The models the hot path builds without validation are the ones validation would build: the
same bytes on the wire, equal, and the same envelope ``EventFactory.make`` stamps."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, PrivateAttr
from tests.helpers import T0, D, engine, factory, proposal, quote

from at_core.events import AccountStateEvent
from at_core.models.enums import OrderSide
from at_core.models.portfolio import RuleHeadroom
from at_core.models.trusted import check_trusted, trusted

ES = "ES.CME"
MS = 1_000_000


def _states(out: list) -> list[AccountStateEvent]:
    return [e for e in out if isinstance(e, AccountStateEvent)]


def test_an_account_state_on_a_mark_is_byte_identical_to_the_validated_event_from_the_factory() -> None:
    eng, f = engine(), factory()
    eng.on_market_data(quote(f, ES, "5000.00", "5000.25"))
    for account in ("paper-1", "topstep-50k-1", "apex-50k-1", "ftmo-100k-1"):
        eng.on_proposal(proposal(f, account, ES, OrderSide.BUY, "2"))
    eng.clock.advance_to(T0 + MS)
    cause = quote(f, ES, "4998.00", "4998.25")  # a loss, no breach (a flatten's states have other causes)
    states = _states(eng.on_market_data(cause))
    assert len(states) >= 2 and any(s.headroom for s in states)  # a retail account, a prop one with its rules
    envelope = {"event_id", "event_type", "schema_version", "ts_event", "ts_init", "source", "correlation_id"}
    for state in states:
        own = state.model_dump(exclude=envelope | {"causation_id"})
        own["headroom"] = [RuleHeadroom(**h) for h in own["headroom"]]
        validated = eng.factory.make(AccountStateEvent, cause=cause, derive_from=f"account:{state.account_id}", **own)
        assert state.model_dump_json() == validated.model_dump_json()
        assert state == validated
        assert AccountStateEvent.model_validate_json(state.model_dump_json()) == state
        assert all(isinstance(h, RuleHeadroom) for h in state.headroom)
        assert state.unrealized_pnl == state.equity - state.balance < 0


def test_a_headroom_at_zero_use_keeps_the_digits_max_would_keep() -> None:
    eng, f = engine(), factory()
    eng.on_market_data(quote(f, ES, "5000.00", "5000.25"))
    eng.on_proposal(proposal(f, "topstep-50k-1", ES, OrderSide.BUY, "1"))
    eng.clock.advance_to(T0 + MS)
    up = _states(eng.on_market_data(quote(f, ES, "5010.00", "5010.25")))[0]  # a gain: nothing of any limit used
    rt = eng.accounts["topstep-50k-1"]
    validated = [
        RuleHeadroom(
            rule=h.rule, limit=h.limit, used=max(h.limit - h.headroom, D(0)), headroom=h.headroom, floor=h.floor
        )
        for h in up.headroom
    ]
    assert [h.model_dump_json() for h in rt.rules.headroom(up.balance, up.equity)] == [
        h.model_dump_json() for h in validated
    ]


def test_a_model_trusted_cannot_build_is_refused() -> None:
    class WithPrivate(BaseModel):
        x: int
        _cache: int = PrivateAttr(default=0)

    with pytest.raises(TypeError, match="cannot be built"):
        check_trusted(WithPrivate)
    check_trusted(AccountStateEvent)
    built = trusted(RuleHeadroom, {"rule": "daily_loss", "limit": D(1), "used": D(0), "headroom": D(1), "floor": None})
    assert built == RuleHeadroom(rule="daily_loss", limit=D(1), used=D(0), headroom=D(1))


def test_a_copy_of_a_trusted_event_leaves_the_shared_field_names_alone() -> None:
    from at_exec_sim.domain import ledger

    eng, f = engine(), factory()
    eng.on_market_data(quote(f, ES, "5000.00", "5000.25"))
    eng.on_proposal(proposal(f, "paper-1", ES, OrderSide.BUY, "1"))
    state = _states(eng.on_market_data(quote(f, ES, "5001.00", "5001.25")))[0]
    before = set(ledger._ACCOUNT_STATE_FIELDS)
    copied = state.model_copy(update={"balance": D(1)})
    assert copied.balance == D(1) and state.balance != D(1)
    assert ledger._ACCOUNT_STATE_FIELDS == before == set(AccountStateEvent.model_fields)
