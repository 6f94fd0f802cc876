"""Position sizing from account risk: a fixed fraction of equity per trade given the stop distance."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from at_core.catalog import Instrument
from at_core.models.instruments import CryptoPerpetual, FutureContract


def value_per_point(inst: Instrument) -> Decimal:
    """Account-currency value of a one-unit price move for one unit of quantity."""
    if isinstance(inst, FutureContract):
        return inst.multiplier
    if isinstance(inst, CryptoPerpetual):
        return inst.contract_size
    return Decimal(1)


def risk_size(inst: Instrument, equity: Decimal, risk_fraction: Decimal, entry: Decimal, stop: Decimal) -> Decimal:
    """Largest quantity whose loss at the stop is at most ``equity * risk_fraction``, on the instrument's step.

    ES example: 50,000 equity, 1% risk = 500; stop 10 points away at 50 per point = 500 per
    contract: 1 contract. Returns 0 when even the minimum quantity risks too much.
    """
    distance = abs(entry - stop)
    if distance == 0:
        return Decimal(0)
    per_unit = distance * value_per_point(inst)
    raw = (equity * risk_fraction) / per_unit
    qty = (raw / inst.size_increment).to_integral_value(rounding=ROUND_DOWN) * inst.size_increment
    return qty if qty >= inst.min_quantity else Decimal(0)
