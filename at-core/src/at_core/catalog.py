"""The instrument catalog: canonical id or TradingView ticker in, full instrument out.

Futures contracts and FX pairs are built from product rules; crypto markets need exchange
precision, so only the listed ones are known (an exchange adapter can ``add`` more from
ccxt's ``markets``). Anything else raises :class:`UnknownInstrumentError`: callers such as
the risk engine fail closed on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from at_core.errors import SymbolError, UnknownInstrumentError
from at_core.models.enums import AssetClass
from at_core.models.futures_specs import FUTURE_SPECS
from at_core.models.instruments import CryptoPerpetual, CryptoSpot, FutureContract, FxPair
from at_core.symbols import SymbolRef, normalize_ticker, parse_instrument_id

Instrument = FutureContract | FxPair | CryptoSpot | CryptoPerpetual


def _crypto_defaults() -> list[CryptoSpot | CryptoPerpetual]:
    d = Decimal
    return [
        CryptoSpot(
            instrument_id="BTC/USDT.BINANCE",
            symbol="BTC/USDT",
            venue="BINANCE",
            currency="USDT",
            base="BTC",
            quote="USDT",
            price_increment=d("0.01"),
            size_increment=d("0.00001"),
            min_quantity=d("0.00001"),
            max_quantity=d("9000"),
            min_notional=d("5"),
        ),
        CryptoSpot(
            instrument_id="ETH/USDT.BINANCE",
            symbol="ETH/USDT",
            venue="BINANCE",
            currency="USDT",
            base="ETH",
            quote="USDT",
            price_increment=d("0.01"),
            size_increment=d("0.0001"),
            min_quantity=d("0.0001"),
            max_quantity=d("9000"),
            min_notional=d("5"),
        ),
        CryptoSpot(
            instrument_id="SOL/USDT.BINANCE",
            symbol="SOL/USDT",
            venue="BINANCE",
            currency="USDT",
            base="SOL",
            quote="USDT",
            price_increment=d("0.01"),
            size_increment=d("0.001"),
            min_quantity=d("0.001"),
            max_quantity=d("90000"),
            min_notional=d("5"),
        ),
        CryptoPerpetual(
            instrument_id="BTC/USDT:USDT.BINANCE",
            symbol="BTC/USDT:USDT",
            venue="BINANCE",
            currency="USDT",
            base="BTC",
            quote="USDT",
            settle="USDT",
            price_increment=d("0.10"),
            size_increment=d("0.001"),
            min_quantity=d("0.001"),
            max_quantity=d("1000"),
            min_notional=d("100"),
            contract_size=d(1),
            linear=True,
        ),
        CryptoPerpetual(
            instrument_id="ETH/USDT:USDT.BINANCE",
            symbol="ETH/USDT:USDT",
            venue="BINANCE",
            currency="USDT",
            base="ETH",
            quote="USDT",
            settle="USDT",
            price_increment=d("0.01"),
            size_increment=d("0.001"),
            min_quantity=d("0.001"),
            max_quantity=d("10000"),
            min_notional=d("20"),
            contract_size=d(1),
            linear=True,
        ),
        CryptoPerpetual(
            instrument_id="BTC/USD:BTC.BINANCE",
            symbol="BTC/USD:BTC",
            venue="BINANCE",
            currency="BTC",
            base="BTC",
            quote="USD",
            settle="BTC",
            price_increment=d("0.1"),
            size_increment=d(1),
            min_quantity=d(1),
            contract_size=d(100),
            linear=False,
        ),
    ]


class InstrumentCatalog:
    """Look up instruments by canonical id or ticker."""

    def __init__(self, extra: Iterable[Instrument] = ()) -> None:
        self._listed: dict[str, Instrument] = {i.instrument_id: i for i in _crypto_defaults()}
        for inst in extra:
            self.add(inst)

    def add(self, instrument: Instrument) -> None:
        self._listed[instrument.instrument_id] = instrument

    def resolve(self, ticker: str, now: datetime | date | None = None) -> Instrument:
        """Normalise a TradingView ticker and return its instrument.

        With ``now``, a continuous future resolves to its listed contract and an expired one is
        refused (:func:`at_core.symbols.normalize_ticker`).

        Raises:
            SymbolError: the ticker's form is unknown.
            UnknownInstrumentError: the form is known but the instrument is not.
        """
        return self._from_ref(normalize_ticker(ticker, now=now))

    def get(self, instrument_id: str) -> Instrument:
        """Return the instrument with this canonical id.

        Raises:
            UnknownInstrumentError: not listed and not buildable from product rules.
        """
        if instrument_id in self._listed:
            return self._listed[instrument_id]
        try:
            ref = parse_instrument_id(instrument_id)
        except SymbolError as exc:
            raise UnknownInstrumentError(instrument_id) from exc
        return self._from_ref(ref)

    def _from_ref(self, ref: SymbolRef) -> Instrument:
        if ref.instrument_id in self._listed:
            return self._listed[ref.instrument_id]
        if ref.asset_class is AssetClass.FUTURE:
            return _future(ref)
        if ref.asset_class is AssetClass.FX:
            return _fx(ref)
        raise UnknownInstrumentError(ref.instrument_id)


def _future(ref: SymbolRef) -> FutureContract:
    assert ref.root is not None
    spec = FUTURE_SPECS[ref.root]
    expiry = None
    if ref.contract_month is not None:
        year, month = (int(p) for p in ref.contract_month.split("-"))
        expiry = spec.last_trade(year, month)
    return FutureContract(
        instrument_id=ref.instrument_id,
        symbol=ref.symbol,
        venue=ref.venue,
        currency=spec.currency,
        price_increment=spec.tick_size,
        size_increment=Decimal(1),
        min_quantity=Decimal(1),
        multiplier=spec.multiplier,
        root=spec.root,
        exchange=spec.exchange,
        contract_month=ref.contract_month,
        expiry=expiry,
        tick_value=spec.tick_value,
        mini_equivalent=spec.mini_equivalent,
    )


def _fx(ref: SymbolRef) -> FxPair:
    assert ref.base is not None and ref.quote is not None
    pip = Decimal("0.01") if "JPY" in (ref.base, ref.quote) else Decimal("0.0001")
    return FxPair(
        instrument_id=ref.instrument_id,
        symbol=ref.symbol,
        venue=ref.venue,
        currency=ref.quote,
        base=ref.base,
        quote=ref.quote,
        pip_size=pip,
        price_increment=pip / 10,
        size_increment=Decimal(1),
        min_quantity=Decimal(1),
        lot_size=Decimal(100_000),
    )
