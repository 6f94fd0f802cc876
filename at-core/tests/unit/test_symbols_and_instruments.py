"""Tickers map to canonical instruments with their real specs; unknown forms say why."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from at_core.catalog import InstrumentCatalog
from at_core.errors import SymbolError, UnknownInstrumentError
from at_core.models.enums import AssetClass
from at_core.symbols import normalize_ticker, parse_instrument_id


@pytest.mark.parametrize(
    ("ticker", "instrument_id", "asset_class"),
    [
        ("ES1!", "ES.CME", AssetClass.FUTURE),
        ("CME_MINI:ES1!", "ES.CME", AssetClass.FUTURE),
        ("MES1!", "MES.CME", AssetClass.FUTURE),
        ("ESZ2026", "ESZ2026.CME", AssetClass.FUTURE),
        ("ESZ26", "ESZ2026.CME", AssetClass.FUTURE),
        ("NYMEX:CL1!", "CL.NYMEX", AssetClass.FUTURE),
        ("6EH2027", "6EH2027.CME", AssetClass.FUTURE),
        ("BINANCE:BTCUSDT", "BTC/USDT.BINANCE", AssetClass.CRYPTO_SPOT),
        ("BTCUSDT.P", "BTC/USDT:USDT.BINANCE", AssetClass.CRYPTO_PERP),
        ("BYBIT:ETHUSDT.P", "ETH/USDT:USDT.BYBIT", AssetClass.CRYPTO_PERP),
        ("BTC/USDT:USDT", "BTC/USDT:USDT.BINANCE", AssetClass.CRYPTO_PERP),
        ("OANDA:EURUSD", "EUR/USD.FX", AssetClass.FX),
        ("FX:USDJPY", "USD/JPY.FX", AssetClass.FX),
        ("eur_usd", "EUR/USD.FX", AssetClass.FX),
    ],
)
def test_tradingview_tickers_normalise(ticker: str, instrument_id: str, asset_class: AssetClass) -> None:
    ref = normalize_ticker(ticker)
    assert (ref.instrument_id, ref.asset_class) == (instrument_id, asset_class)
    assert parse_instrument_id(ref.instrument_id) == ref


@pytest.mark.parametrize(
    ("ticker", "reason"),
    [
        ("", "empty"),
        ("ES2!", "front-month"),
        ("ESF2026", "does not list a F contract"),
        ("OANDA:XAUUSD", "not a pair of known currencies"),
        ("OANDA:ES1!", "does not list futures"),
        ("FOO", "quote currency"),
        ("EUREUR", "two different currencies"),
    ],
)
def test_unmappable_tickers_raise_a_clear_error(ticker: str, reason: str) -> None:
    with pytest.raises(SymbolError, match=reason):
        normalize_ticker(ticker)


@pytest.mark.parametrize(
    ("instrument_id", "tick", "multiplier", "tick_value"),
    [
        ("ES.CME", "0.25", "50", "12.5"),
        ("MES.CME", "0.25", "5", "1.25"),
        ("NQ.CME", "0.25", "20", "5"),
        ("MNQ.CME", "0.25", "2", "0.5"),
        ("RTY.CME", "0.1", "50", "5"),
        ("YM.CBOT", "1", "5", "5"),
        ("CL.NYMEX", "0.01", "1000", "10"),
        ("MCL.NYMEX", "0.01", "100", "1"),
        ("GC.COMEX", "0.1", "100", "10"),
        ("MGC.COMEX", "0.1", "10", "1"),
        ("ZN.CBOT", "0.015625", "1000", "15.625"),
        ("6E.CME", "0.00005", "125000", "6.25"),
    ],
)
def test_futures_carry_their_exchange_specs(instrument_id: str, tick: str, multiplier: str, tick_value: str) -> None:
    inst = InstrumentCatalog().get(instrument_id)
    assert inst.price_increment == Decimal(tick)
    assert inst.multiplier == Decimal(multiplier)
    assert inst.tick_value == Decimal(tick_value)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("ticker", "expiry"),
    [
        ("ESZ2026", date(2026, 12, 18)),  # third Friday
        ("CLK2027", date(2027, 4, 20)),  # 25 Apr 2027 is a Sunday: 4 business days before it
        ("GCG2027", date(2027, 2, 24)),  # third-last business day
        ("ZNH2027", date(2027, 3, 22)),  # 7 business days before 31 Mar 2027
        ("6EH2027", date(2027, 3, 15)),  # 2 business days before 17 Mar 2027
    ],
)
def test_dated_futures_know_their_last_trade_date(ticker: str, expiry: date) -> None:
    inst = InstrumentCatalog().resolve(ticker)
    assert inst.expiry == expiry  # type: ignore[union-attr]


def test_fx_pips_and_lots() -> None:
    cat = InstrumentCatalog()
    eurusd, usdjpy = cat.resolve("OANDA:EURUSD"), cat.resolve("FX:USDJPY")
    assert eurusd.pip_size == Decimal("0.0001") and usdjpy.pip_size == Decimal("0.01")  # type: ignore[union-attr]
    assert (eurusd.lot_size, eurusd.mini_lot, eurusd.micro_lot) == (100_000, 10_000, 1_000)  # type: ignore[union-attr]
    assert usdjpy.currency == "JPY"


def test_pnl_uses_the_multiplier() -> None:
    cat = InstrumentCatalog()
    assert cat.get("ES.CME").pnl(Decimal(2), Decimal("5000"), Decimal("5010.25")) == Decimal("1025.00")
    assert cat.get("MES.CME").pnl(Decimal(-1), Decimal("5000"), Decimal("4990")) == Decimal("50")


def test_crypto_markets_follow_ccxt_fields_and_unknown_ones_fail_closed() -> None:
    cat = InstrumentCatalog()
    perp = cat.resolve("BTCUSDT.P")
    assert perp.min_notional == Decimal("100") and perp.linear  # type: ignore[union-attr]
    with pytest.raises(UnknownInstrumentError):
        cat.resolve("BINANCE:DOGEUSDT")
    with pytest.raises(UnknownInstrumentError):
        cat.get("NOPE.CME")
