"""Instrument definitions: futures, FX pairs, crypto spot and perpetuals.

Crypto fields follow ccxt's unified market structure (precision, limits, contractSize,
linear/inverse) so an exchange adapter can build one from ``exchange.markets``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from at_core.models.base import FrozenModel, Identifier, PositiveDecimal
from at_core.models.enums import AssetClass
from at_core.models.precision import Rounding, round_to_increment

#: CME month codes, January to December.
MONTH_CODES = "FGHJKMNQUVXZ"


def month_code(month: int) -> str:
    return MONTH_CODES[month - 1]


def month_from_code(code: str) -> int:
    idx = MONTH_CODES.find(code.upper())
    if idx < 0 or len(code) != 1:
        raise ValueError(f"unknown futures month code {code!r}")
    return idx + 1


class _InstrumentBase(FrozenModel):
    instrument_id: Identifier = Field(
        description="Canonical id, e.g. 'MESZ2026.CME', 'EUR/USD.FX', 'BTC/USDT:USDT.BINANCE'"
    )
    symbol: Identifier = Field(description="Symbol at the venue in canonical form")
    venue: Identifier
    currency: Annotated[str, Field(min_length=3, max_length=8)] = Field(description="Currency P&L settles in")
    price_increment: PositiveDecimal
    size_increment: PositiveDecimal
    min_quantity: PositiveDecimal
    max_quantity: PositiveDecimal | None = None
    min_notional: Decimal | None = None
    multiplier: PositiveDecimal = Decimal(1)

    def round_price(self, price: Decimal, rounding: Rounding = Rounding.NEAREST) -> Decimal:
        return round_to_increment(price, self.price_increment, rounding)

    def round_quantity(self, qty: Decimal, rounding: Rounding = Rounding.DOWN) -> Decimal:
        return round_to_increment(qty, self.size_increment, rounding)

    def notional(self, quantity: Decimal, price: Decimal) -> Decimal:
        """Notional value of ``quantity`` at ``price`` in the settlement currency."""
        return abs(quantity) * price * self.multiplier

    def pnl(self, quantity: Decimal, entry: Decimal, exit_: Decimal) -> Decimal:
        """P&L of a signed quantity (long > 0) from ``entry`` to ``exit_``, in ``currency``."""
        return quantity * (exit_ - entry) * self.multiplier


class FutureContract(_InstrumentBase):
    """A futures contract; ``expiry`` is None for a continuous (front-month) series."""

    asset_class: Literal[AssetClass.FUTURE] = AssetClass.FUTURE
    root: Identifier = Field(description="Product root, e.g. 'ES'")
    exchange: Identifier
    contract_month: Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")] | None = None
    expiry: date | None = None
    tick_value: PositiveDecimal = Field(description="Value of one tick for one contract, in currency")
    mini_equivalent: Decimal = Field(
        default=Decimal(1), description="Weight against its full-size contract (MES = 0.1 ES), for firm limits"
    )


class FxPair(_InstrumentBase):
    asset_class: Literal[AssetClass.FX] = AssetClass.FX
    base: Identifier
    quote: Identifier
    pip_size: PositiveDecimal = Field(description="0.0001, or 0.01 for JPY pairs")
    lot_size: PositiveDecimal = Field(default=Decimal(100_000), description="Units in one standard lot")

    @property
    def mini_lot(self) -> Decimal:
        return self.lot_size / 10

    @property
    def micro_lot(self) -> Decimal:
        return self.lot_size / 100


class CryptoSpot(_InstrumentBase):
    asset_class: Literal[AssetClass.CRYPTO_SPOT] = AssetClass.CRYPTO_SPOT
    base: Identifier
    quote: Identifier


class CryptoPerpetual(_InstrumentBase):
    asset_class: Literal[AssetClass.CRYPTO_PERP] = AssetClass.CRYPTO_PERP
    base: Identifier
    quote: Identifier
    settle: Identifier
    contract_size: PositiveDecimal = Decimal(1)
    linear: bool = True

    @property
    def inverse(self) -> bool:
        return not self.linear

    def notional(self, quantity: Decimal, price: Decimal) -> Decimal:
        if self.linear:
            return abs(quantity) * price * self.contract_size
        return abs(quantity) * self.contract_size  # inverse: contracts are in quote currency

    def pnl(self, quantity: Decimal, entry: Decimal, exit_: Decimal) -> Decimal:
        if self.linear:
            return quantity * (exit_ - entry) * self.contract_size
        # inverse contracts settle in the base coin
        return quantity * self.contract_size * (Decimal(1) / entry - Decimal(1) / exit_)


Instrument = Annotated[
    FutureContract | FxPair | CryptoSpot | CryptoPerpetual,
    Field(discriminator="asset_class"),
]
