"""Money in the account's currency: conversion and risk-based sizing."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from at_core.markets.money import MissingRateError, convert, risk_quantity


def test_yen_converts_to_dollars_through_the_inverse_of_usd_jpy() -> None:
    assert convert(D(50000), "JPY", "USD", {"USD/JPY": D(150)}).quantize(D("0.01")) == D("333.33")


def test_a_missing_rate_is_an_error_not_a_zero() -> None:
    with pytest.raises(MissingRateError, match="GBP->USD"):
        convert(D(990), "GBP", "USD", {"EUR/USD": D("1.08")})


def test_usd_jpy_risk_sizing_is_in_the_account_currency() -> None:
    # 1% of a 100K USD account, stop 0.39 yen away at 150.00: about 385,000 units, not 2,500
    units = risk_quantity(D(1000), D("0.39"), "JPY", "USD", {"USD/JPY": D("150.00")})
    assert units == D(384615)


def test_sizing_fails_closed_without_a_rate() -> None:
    with pytest.raises(MissingRateError):
        risk_quantity(D(1000), D("0.0040"), "GBP", "USD", {})
