"""A proposal the risk check cannot price is denied, visibly, never dropped after N tries."""

from __future__ import annotations

import pytest
from tests.helpers import engine, factory, proposal, quote

from at_core.events import RiskDecisionEvent
from at_core.events import RiskReasonCode as Code
from at_core.models.enums import OrderSide
from at_exec_sim.domain import risk


def _decisions(outputs: list) -> list[RiskDecisionEvent]:
    return [e for e in outputs if isinstance(e, RiskDecisionEvent)]


def test_a_risk_check_that_raises_becomes_a_denied_decision_with_internal_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    eng, f = engine(), factory()
    eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.25"))

    def broken(*_: object) -> None:
        raise ArithmeticError("cannot price this")

    monkeypatch.setattr(risk, "check", broken)
    [decision] = _decisions(eng.on_proposal(proposal(f, "paper-1", "MES.CME", OrderSide.BUY, "1")))
    assert not decision.approved
    assert [r.code for r in decision.reasons] == [Code.INTERNAL_ERROR]
    assert "ArithmeticError: cannot price this" in decision.reasons[0].message
    assert eng.orders == {}  # nothing was sent


def test_a_quantity_of_1e30_is_denied_not_raised() -> None:
    eng, f = engine(), factory()
    eng.on_market_data(quote(f, "MES.CME", "5000.00", "5000.25"))
    [decision] = _decisions(eng.on_proposal(proposal(f, "paper-1", "MES.CME", OrderSide.BUY, "1e30")))
    assert not decision.approved and decision.reasons
