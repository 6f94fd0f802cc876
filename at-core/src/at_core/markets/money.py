"""Money in the account's currency: conversion through quoted rates and risk-based sizing. Pure.

Rates are ``{"BASE/QUOTE": mid}`` (``"USD/JPY": 150``): an amount in JPY converts to USD through
the inverse of ``USD/JPY``. USD stablecoins (USDT, USDC) count as USD. A missing rate is an error,
never a zero: the caller fails closed on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_DOWN, Decimal

from at_core.errors import AtCoreError

_STABLE = frozenset({"USD", "USDT", "USDC"})


class MissingRateError(AtCoreError, LookupError):
    """No rate converts ``from_ccy`` to ``to_ccy``."""

    def __init__(self, from_ccy: str, to_ccy: str) -> None:
        self.from_ccy, self.to_ccy = from_ccy, to_ccy
        super().__init__(f"no {from_ccy}->{to_ccy} rate known")


def convert(amount: Decimal, from_ccy: str, to_ccy: str, rates: Mapping[str, Decimal]) -> Decimal:
    """``amount`` in ``from_ccy`` expressed in ``to_ccy``.

    Raises:
        MissingRateError: neither ``FROM/TO`` nor ``TO/FROM`` is quoted.
    """
    if amount == 0 or from_ccy == to_ccy or (from_ccy in _STABLE and to_ccy in _STABLE):
        return amount
    if (direct := rates.get(f"{from_ccy}/{to_ccy}")) is not None:
        return amount * direct
    if (inverse := rates.get(f"{to_ccy}/{from_ccy}")) is not None:
        return amount / inverse
    raise MissingRateError(from_ccy, to_ccy)


def risk_quantity(
    risk_amount: Decimal,
    loss_per_unit: Decimal,
    pnl_currency: str,
    account_currency: str,
    rates: Mapping[str, Decimal],
    step: Decimal = Decimal(1),
) -> Decimal:
    """How many units risk ``risk_amount`` (account currency) when one unit loses ``loss_per_unit``
    (instrument P&L currency) at the stop, rounded down to ``step``.

    USD/JPY on a USD account at 150.00 with a stop 0.39 away: one unit loses 0.39 JPY = 0.0026 USD,
    so 1,000 USD of risk buys 384,615 units (not the 2,564 of reading yen as dollars).

    Raises:
        MissingRateError: the loss cannot be converted (size nothing rather than guess).
        ValueError: ``loss_per_unit`` is not above zero.
    """
    if loss_per_unit <= 0:
        raise ValueError("the loss per unit at the stop must be above zero")
    per_unit = convert(loss_per_unit, pnl_currency, account_currency, rates)
    units = risk_amount / per_unit
    return (units / step).to_integral_value(rounding=ROUND_DOWN) * step
