"""Bracket fields on alerts (pure): each form parsed, one form per level, bounds and sides refused with a path."""

from __future__ import annotations

from decimal import Decimal

import pytest

from at_core.catalog import InstrumentCatalog
from at_core.models.brackets import BracketLevel, BracketUnit, TrailingStop
from at_gateway.domain.alerts import AlertRules, parse_body, validate_alert
from at_gateway.errors import Rejection

NOW = 1_795_000_000_000_000_000
RULES = AlertRules(InstrumentCatalog(), NOW, 300)
D = Decimal


def alert(body: bytes):
    return validate_alert(parse_body(body), RULES)


def refused(body: bytes) -> list[tuple[str, str]]:
    with pytest.raises(Rejection) as err:
        alert(body)
    assert err.value.reason == "invalid"
    return [(e["loc"][0], e["msg"]) for e in err.value.errors]


def test_prices_ticks_points_percent_and_a_trailing_stop_are_understood() -> None:
    a = alert(b'{"ticker":"MES1!","action":"buy","contracts":1,"price":6000,"stop_loss":5990,"take_profit_ticks":40}')
    assert a.bracket is not None
    assert a.bracket.stop_loss == BracketLevel(value=D(5990))
    assert a.bracket.take_profit == BracketLevel(value=D(40), unit=BracketUnit.TICKS)
    b = alert(b"ticker=MES1!\naction=sell\nstop_loss_points=12\ntake_profit_percent=0.5\ntrailing_stop_ticks=8")
    assert b.bracket is not None
    assert b.bracket.stop_loss == BracketLevel(value=D(12), unit=BracketUnit.POINTS)
    assert b.bracket.take_profit == BracketLevel(value=D("0.5"), unit=BracketUnit.PERCENT)
    assert b.bracket.trailing_stop == TrailingStop(distance=D(8), unit=BracketUnit.TICKS)


def test_an_alert_without_bracket_fields_has_no_bracket() -> None:
    assert alert(b'{"ticker":"MES1!","action":"buy"}').bracket is None


def test_a_stop_on_the_wrong_side_of_the_alerts_price_is_refused_with_its_field() -> None:
    errors = refused(b'{"ticker":"MES1!","action":"buy","price":6000,"stop_loss":6010}')
    assert errors[0][0] == "stop_loss" and "below the entry" in errors[0][1]
    errors = refused(b'{"ticker":"MES1!","action":"sell","limit_price":6000,"take_profit":6005}')
    assert errors[0][0] == "take_profit"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"ticker":"MES1!","action":"buy","stop_loss":5990,"stop_loss_ticks":8}', "stop_loss_ticks"),
        (b'{"ticker":"MES1!","action":"buy","stop_loss_ticks":0}', "stop_loss_ticks"),
        (b'{"ticker":"MES1!","action":"buy","stop_loss_ticks":-4}', "stop_loss_ticks"),
        (b'{"ticker":"MES1!","action":"buy","take_profit_percent":100}', "take_profit_percent"),
        (b'{"ticker":"MES1!","action":"buy","trailing_stop_points":2000000}', "trailing_stop_points"),
        (b'{"ticker":"MES1!","action":"buy","stop_loss":"low"}', "stop_loss"),
        (b'{"ticker":"MES1!","action":"exit","stop_loss":5990}', "stop_loss"),
    ],
)
def test_nonsense_bracket_fields_are_refused_naming_the_field(body: bytes, field: str) -> None:
    assert field in [loc for loc, _ in refused(body)]
