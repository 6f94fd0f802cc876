"""Position sizing from account risk: a fixed fraction of equity per trade given the stop distance.

The loss at the stop is in the instrument's P&L currency and the risk in the account's: the
quantity comes from at-core's :func:`at_core.markets.money.risk_quantity`, which converts through
the same quoted rates exec-sim values the account with (a USD/JPY stop is yen, not dollars).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from at_core.catalog import Instrument
from at_core.markets.money import risk_quantity
from at_core.models.instruments import CryptoPerpetual, FutureContract


def value_per_point(inst: Instrument) -> Decimal:
    """Instrument-currency value of a one-unit price move for one unit of quantity."""
    if isinstance(inst, FutureContract):
        return inst.multiplier
    if isinstance(inst, CryptoPerpetual):
        return inst.contract_size
    return Decimal(1)


def risk_size(
    inst: Instrument,
    equity: Decimal,
    risk_fraction: Decimal,
    entry: Decimal,
    stop: Decimal,
    account_currency: str = "USD",
    rates: Mapping[str, Decimal] | None = None,
) -> Decimal:
    """Largest quantity whose loss at the stop is at most ``equity * risk_fraction`` (account
    currency), on the instrument's step.

    ES example: 50,000 equity, 1% risk = 500; stop 10 points away at 50 per point = 500 per
    contract: 1 contract. USD/JPY at 150.00 on a USD account, 100,000 equity, stop 0.39 away:
    one unit loses 0.39 JPY = 0.0026 USD, so 1,000 USD of risk is 384,615 units. Returns 0 when
    even the minimum quantity risks too much.

    Raises:
        MissingRateError: the instrument's currency cannot be converted to the account's (the
            caller abstains: sizing on a guessed rate is sizing blind).
    """
    if entry == stop:
        return Decimal(0)
    direction = Decimal(1) if stop < entry else Decimal(-1)
    loss_per_unit = abs(inst.pnl(direction, entry, stop))
    if loss_per_unit == 0:
        return Decimal(0)
    qty = risk_quantity(
        equity * risk_fraction, loss_per_unit, inst.currency, account_currency, rates or {}, inst.size_increment
    )
    return qty if qty >= inst.min_quantity else Decimal(0)
