"""TradingView (and ccxt) ticker normalisation to canonical instrument ids.

Canonical ids are ``<symbol>.<venue>``:

* futures: ``ESZ2026.CME`` (a dated contract, from ``ESZ2026``, ``CME_MINI:ESZ2026`` or, given
  ``now``, from the continuous ``ES1!`` / ``ES2!`` by the roll rule of
  :mod:`at_core.markets.contracts`); without ``now`` ``ES1!`` stays the undated ``ES.CME``;
* FX: ``EUR/USD.FX``;
* crypto spot: ``BTC/USDT.BINANCE``; perpetuals in ccxt's notation ``BTC/USDT:USDT.BINANCE``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from at_core.errors import SymbolError
from at_core.models.enums import AssetClass
from at_core.models.futures_specs import FUTURE_SPECS
from at_core.models.instruments import MONTH_CODES, month_from_code

FX_CURRENCIES = frozenset(
    [
        "USD",
        "EUR",
        "JPY",
        "GBP",
        "CHF",
        "AUD",
        "NZD",
        "CAD",
        "SEK",
        "NOK",
        "DKK",
        "SGD",
        "HKD",
        "MXN",
        "ZAR",
        "TRY",
        "PLN",
        "CZK",
        "HUF",
        "CNH",
    ]
)
CRYPTO_QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "USD", "EUR", "BTC", "ETH")
FX_VENUES = frozenset({"OANDA", "FX", "FX_IDC", "FOREXCOM", "FXCM", "SAXO", "PEPPERSTONE", "ICMARKETS"})
CRYPTO_VENUES = frozenset(
    {"BINANCE", "BINANCEUS", "BYBIT", "COINBASE", "KRAKEN", "BITMEX", "OKX", "BITSTAMP", "DERIBIT"}
)
FX_VENUE = "FX"
DEFAULT_CRYPTO_VENUE = "BINANCE"

_ROOTS_LONGEST_FIRST = sorted(FUTURE_SPECS, key=len, reverse=True)
_ROOT_ALT = "|".join(re.escape(r) for r in _ROOTS_LONGEST_FIRST)
_CONTINUOUS = re.compile(rf"^({_ROOT_ALT})(\d)!$")
_DATED = re.compile(rf"^({_ROOT_ALT})([{MONTH_CODES}])(\d{{4}}|\d{{2}})$")
_CCXT = re.compile(r"^([A-Z0-9]+)/([A-Z0-9]+)(?::([A-Z0-9]+))?$")
_SEPARATED_PAIR = re.compile(r"^([A-Z0-9]+)[_/-]([A-Z0-9]+)$")


@dataclass(frozen=True, slots=True)
class SymbolRef:
    """The canonical identity a ticker maps to."""

    instrument_id: str
    asset_class: AssetClass
    symbol: str
    venue: str
    root: str | None = None
    contract_month: str | None = None  # "YYYY-MM"
    base: str | None = None
    quote: str | None = None
    settle: str | None = None
    last_trade: date | None = None  # a dated future's last trade date (exec-sim warns before it)


def split_instrument_id(instrument_id: str) -> tuple[str, str]:
    """Split ``'<symbol>.<venue>'`` at its last dot."""
    symbol, dot, venue = instrument_id.rpartition(".")
    if not dot or not symbol or not venue:
        raise SymbolError(instrument_id, "instrument id must look like '<symbol>.<venue>'")
    return symbol, venue


def parse_instrument_id(instrument_id: str) -> SymbolRef:
    """Parse a canonical id (``ES.CME``, ``EUR/USD.FX``, ``BTC/USDT:USDT.BINANCE``) back to its ref.

    Raises:
        SymbolError: the id is not canonical.
    """
    symbol, venue = split_instrument_id(instrument_id)
    text = f"{symbol}1!" if symbol in FUTURE_SPECS else symbol
    ref = normalize_ticker(text, default_crypto_venue=venue)
    if ref.instrument_id != instrument_id:
        raise SymbolError(instrument_id, f"not a canonical instrument id (did you mean {ref.instrument_id!r}?)")
    return ref


def normalize_ticker(
    ticker: str, *, default_crypto_venue: str = DEFAULT_CRYPTO_VENUE, now: datetime | date | None = None
) -> SymbolRef:
    """Map a TradingView ticker (with or without ``EXCHANGE:`` prefix) to a :class:`SymbolRef`.

    Args:
        ticker: the TradingView (or ccxt) ticker.
        default_crypto_venue: the venue of a crypto ticker without an exchange prefix.
        now: the caller's clock (UTC). Given, a continuous future (``MES1!``, ``MES2!``) resolves
            to its listed contract and an expired dated contract is refused.

    Raises:
        SymbolError: the ticker is empty, of an unknown shape, its prefix contradicts its form,
            or (with ``now``) the contract has expired.
    """
    raw = ticker
    text = ticker.strip().upper()
    if not text:
        raise SymbolError(raw, "empty ticker")
    prefix: str | None = None
    if ":" in text and not _CCXT.match(text):
        prefix, _, text = text.partition(":")
        if not prefix or not text:
            raise SymbolError(raw, "expected EXCHANGE:SYMBOL")

    today = now.date() if isinstance(now, datetime) else now
    if (ref := _future(raw, text, prefix, today)) is not None:
        return ref
    if (ref := _crypto_perp(raw, text, prefix, default_crypto_venue)) is not None:
        return ref
    if prefix in CRYPTO_VENUES:
        return _crypto_spot(raw, text, prefix)
    if (ref := _fx(raw, text, prefix)) is not None:
        return ref
    if prefix is None or prefix in CRYPTO_VENUES:
        return _crypto_spot(raw, text, default_crypto_venue)
    raise SymbolError(raw, f"no known instrument of form {text!r} on {prefix!r}")


def _future(raw: str, text: str, prefix: str | None, today: date | None) -> SymbolRef | None:
    from at_core.markets import contracts

    last_trade = None
    if m := _CONTINUOUS.match(text):
        root, rank = m.group(1), int(m.group(2))
        if today is not None:
            if rank < 1:
                raise SymbolError(raw, "continuous contracts count from 1 (the front month)")
            c = contracts.continuous(root, rank, today)
            month, symbol, last_trade = c.contract_month, c.symbol, c.last_trade
        elif rank != 1:
            raise SymbolError(
                raw, f"{root}{rank}! needs the time to resolve: without it only the front-month {root}1! maps"
            )
        else:
            month, symbol = None, root
    elif m := _DATED.match(text):
        root, code, year_text = m.groups()
        year = int(year_text) if len(year_text) == 4 else 2000 + int(year_text)
        spec = FUTURE_SPECS[root]
        if code not in spec.months:
            raise SymbolError(raw, f"{root} does not list a {code} contract (months {spec.months})")
        month = f"{year:04d}-{month_from_code(code):02d}"
        symbol = f"{root}{code}{year:04d}"
        last_trade = spec.last_trade(year, month_from_code(code))
        if today is not None and today > last_trade:
            raise SymbolError(raw, f"{symbol} expired: its last trade date was {last_trade.isoformat()}")
    else:
        return None
    spec = FUTURE_SPECS[root]
    if prefix is not None and (prefix in FX_VENUES or prefix in CRYPTO_VENUES):
        raise SymbolError(raw, f"{prefix} does not list futures")
    return SymbolRef(
        instrument_id=f"{symbol}.{spec.exchange}",
        asset_class=AssetClass.FUTURE,
        symbol=symbol,
        venue=spec.exchange,
        root=root,
        contract_month=month,
        last_trade=last_trade,
    )


def _split_crypto(raw: str, text: str) -> tuple[str, str]:
    if m := _SEPARATED_PAIR.match(text):
        return m.group(1), m.group(2)
    for quote in CRYPTO_QUOTES:
        if text.endswith(quote) and len(text) > len(quote):
            return text[: -len(quote)], quote
    raise SymbolError(raw, f"cannot find a known quote currency ({', '.join(CRYPTO_QUOTES)}) in {text!r}")


def _crypto_perp(raw: str, text: str, prefix: str | None, default_venue: str) -> SymbolRef | None:
    venue = prefix or default_venue
    if m := _CCXT.match(text):
        base, quote, settle = m.groups()
        if settle is None:
            if prefix in FX_VENUES or (base in FX_CURRENCIES and quote in FX_CURRENCIES):
                return None
            return _crypto_spot(raw, f"{base}/{quote}", venue)
    elif text.endswith(".P") or text.endswith("PERP"):
        core = text[:-2] if text.endswith(".P") else text[:-4]
        base, quote = _split_crypto(raw, core.rstrip("-_"))
        settle = quote if quote != "USD" else base  # BTCUSD.P is inverse, settled in BTC
    else:
        return None
    if prefix in FX_VENUES:
        raise SymbolError(raw, f"{prefix} does not list crypto perpetuals")
    symbol = f"{base}/{quote}:{settle}"
    return SymbolRef(f"{symbol}.{venue}", AssetClass.CRYPTO_PERP, symbol, venue, base=base, quote=quote, settle=settle)


def _crypto_spot(raw: str, text: str, venue: str) -> SymbolRef:
    base, quote = _split_crypto(raw, text)
    symbol = f"{base}/{quote}"
    return SymbolRef(f"{symbol}.{venue}", AssetClass.CRYPTO_SPOT, symbol, venue, base=base, quote=quote)


def _fx(raw: str, text: str, prefix: str | None) -> SymbolRef | None:
    compact = text.replace("/", "").replace("_", "").replace("-", "")
    if len(compact) == 6 and compact[:3] in FX_CURRENCIES and compact[3:] in FX_CURRENCIES:
        base, quote = compact[:3], compact[3:]
        if base == quote:
            raise SymbolError(raw, "an FX pair needs two different currencies")
        symbol = f"{base}/{quote}"
        return SymbolRef(f"{symbol}.{FX_VENUE}", AssetClass.FX, symbol, FX_VENUE, base=base, quote=quote)
    if prefix in FX_VENUES:
        raise SymbolError(raw, f"{text!r} is not a pair of known currencies")
    return None
