"""The instrument catalog: canonical id or TradingView ticker in, full instrument out.

Futures contracts and FX pairs are built from product rules; crypto markets need exchange
precision, so only the listed ones are known (an exchange adapter can ``add`` more from
ccxt's ``markets``). Anything else raises :class:`UnknownInstrumentError`: callers such as
the risk engine fail closed on it.

What the catalog builds it keeps (a future or a pair took 10-16 µs to build, and every signal,
alert and quote asks again): by id, and a ticker's answer by ticker and date, since a continuous
``MES1!`` rolls by date. Both tables are bounded (the oldest entry goes first, so a stream of
distinct dates cannot grow them), refusals are never kept, and ``add`` forgets both. Instruments
are frozen models, so the one kept is the one every caller gets. Pure: nothing reads a clock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import TypeVar

from at_core.errors import SymbolError, UnknownInstrumentError
from at_core.models.enums import AssetClass
from at_core.models.futures_specs import FUTURE_SPECS
from at_core.models.instruments import CryptoPerpetual, CryptoSpot, FutureContract, FxPair
from at_core.symbols import SymbolRef, normalize_ticker, parse_instrument_id

_K = TypeVar("_K")

Instrument = FutureContract | FxPair | CryptoSpot | CryptoPerpetual

#: Entries kept in each of the catalog's tables (built by id; resolved by ticker and date).
MEMO_SIZE = 4096


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


#: Built once: they are frozen, so every catalog can list the same objects.
_CRYPTO_DEFAULTS: tuple[tuple[str, Instrument], ...] = tuple((i.instrument_id, i) for i in _crypto_defaults())


class InstrumentCatalog:
    """Look up instruments by canonical id or ticker; what is built is kept (bounded, see the module)."""

    def __init__(self, extra: Iterable[Instrument] = (), memo_size: int = MEMO_SIZE) -> None:
        if memo_size < 1:
            raise ValueError("memo_size must be at least 1")
        self._listed: dict[str, Instrument] = dict(_CRYPTO_DEFAULTS)
        self._memo_size = memo_size
        self._by_id: dict[str, Instrument] = {}
        self._by_ticker: dict[tuple[str, date | None], Instrument] = {}
        # Hits read a dict without the lock (one dict read is atomic); misses and ``add`` take it,
        # so two threads evicting at once cannot break a table (at worst both build the same
        # value), and a build that raced an ``add`` is not kept (``_generation`` moved on).
        self._lock = threading.Lock()
        self._generation = 0
        for inst in extra:
            self.add(inst)

    def add(self, instrument: Instrument) -> None:
        """List ``instrument`` (replacing one with its id); what was kept is forgotten."""
        with self._lock:
            self._listed[instrument.instrument_id] = instrument
            self._generation += 1
            self._by_id.clear()  # a kept build or a ticker's answer may be the instrument replaced
            self._by_ticker.clear()

    def resolve(self, ticker: str, now: datetime | date | None = None) -> Instrument:
        """Normalise a TradingView ticker and return its instrument.

        With ``now``, a continuous future resolves to its listed contract and an expired one is
        refused (:func:`at_core.symbols.normalize_ticker`); only ``now``'s date matters.

        Raises:
            SymbolError: the ticker's form is unknown.
            UnknownInstrumentError: the form is known but the instrument is not.
        """
        today = now.date() if isinstance(now, datetime) else now  # as normalize_ticker reads it
        key = (ticker, today)
        found = self._by_ticker.get(key)
        if found is None:
            generation = self._generation
            found = self._from_ref(normalize_ticker(ticker, now=today))
            self._keep(self._by_ticker, key, found, generation)
        return found

    def get(self, instrument_id: str) -> Instrument:
        """Return the instrument with this canonical id.

        Raises:
            UnknownInstrumentError: not listed and not buildable from product rules.
        """
        found = self._listed.get(instrument_id)
        if found is None:
            found = self._by_id.get(instrument_id)
        if found is not None:
            return found
        try:
            ref = parse_instrument_id(instrument_id)
        except SymbolError as exc:
            raise UnknownInstrumentError(instrument_id) from exc
        return self._from_ref(ref)

    def _from_ref(self, ref: SymbolRef) -> Instrument:
        generation = self._generation  # read before ``_listed``: an ``add`` after it is noticed
        found = self._listed.get(ref.instrument_id)
        if found is None:
            found = self._by_id.get(ref.instrument_id)
        if found is not None:
            return found
        built: Instrument
        if ref.asset_class is AssetClass.FUTURE:
            built = _future(ref)
        elif ref.asset_class is AssetClass.FX:
            built = _fx(ref)
        else:
            raise UnknownInstrumentError(ref.instrument_id)
        self._keep(self._by_id, ref.instrument_id, built, generation)
        return built

    def _keep(self, table: dict[_K, Instrument], key: _K, inst: Instrument, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return  # an ``add`` came while it was built: the answer may be the replaced one
            while len(table) >= self._memo_size:
                del table[next(iter(table))]  # the oldest first: a date stream evicts past dates
            table[key] = inst


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
