"""at_core.models.trusted: a model built from validated values equals the validated one; models it
cannot build are refused at import time by check_trusted."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import BaseModel, ConfigDict, RootModel, model_validator

from at_core.models.trusted import check_trusted, trusted


class Quote(BaseModel):
    model_config = ConfigDict(frozen=True)
    instrument_id: str
    bid: Decimal
    size: int = 1


def test_a_trusted_model_equals_the_validated_one_in_value_fields_set_and_bytes() -> None:
    made = Quote(instrument_id="MES.CME", bid=Decimal("6012.25"), size=2)
    built = trusted(Quote, {"instrument_id": "MES.CME", "bid": Decimal("6012.25"), "size": 2})
    assert built == made and built.model_fields_set == made.model_fields_set
    assert built.model_dump_json() == made.model_dump_json()


def test_a_shared_fields_set_is_the_one_the_instance_reports() -> None:
    names = {"instrument_id", "bid"}
    built = trusted(Quote, {"instrument_id": "X", "bid": Decimal(1), "size": 1}, names)
    assert built.model_fields_set == names == Quote(instrument_id="X", bid=Decimal(1)).model_fields_set


def test_a_trusted_model_stays_frozen() -> None:
    built = trusted(Quote, {"instrument_id": "X", "bid": Decimal(1), "size": 1})
    with pytest.raises(ValueError):
        built.bid = Decimal(2)  # type: ignore[misc]


class Hooked(BaseModel):
    x: int

    @model_validator(mode="after")
    def _after(self) -> Hooked:
        return self


class Extra(BaseModel):
    model_config = ConfigDict(extra="allow")
    x: int


class Private(BaseModel):
    x: int
    _cache: int = 0


@pytest.mark.parametrize("cls", [Extra, Private, RootModel[int]])
def test_models_trusted_would_build_wrongly_are_refused(cls: type[BaseModel]) -> None:
    with pytest.raises(TypeError, match="cannot be built by trusted"):
        check_trusted(cls)


def test_plain_frozen_models_pass_the_check() -> None:
    check_trusted(Quote)
    check_trusted(Hooked)  # an after-validator runs only when validating: nothing trusted skips
