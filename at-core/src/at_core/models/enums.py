"""Enumerations shared by models and events. Values are the wire strings."""

from __future__ import annotations

from enum import StrEnum


class AssetClass(StrEnum):
    FUTURE = "future"
    FX = "fx"
    CRYPTO_SPOT = "crypto_spot"
    CRYPTO_PERP = "crypto_perp"


class OrderSide(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is OrderSide.BUY else -1

    def opposite(self) -> OrderSide:
        return OrderSide.SELL if self is OrderSide.BUY else OrderSide.BUY


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP_MARKET = "stop_market"
    STOP_LIMIT = "stop_limit"


class TimeInForce(StrEnum):
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    DAY = "day"
    GTD = "gtd"


class OrderStatus(StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CANCELED = "canceled"
    EXPIRED = "expired"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"


class LiquiditySide(StrEnum):
    MAKER = "maker"
    TAKER = "taker"


class PositionSide(StrEnum):
    LONG = "long"
    SHORT = "short"
    FLAT = "flat"


class SignalAction(StrEnum):
    """What an ingest asks for. ``exit`` closes; ``target`` means "be at position_size"."""

    BUY = "buy"
    SELL = "sell"
    EXIT = "exit"
    TARGET = "target"
    NONE = "none"


class Stance(StrEnum):
    LONG = "long"
    SHORT = "short"
    FLAT = "flat"


class TradingState(StrEnum):
    """Nautilus-style trading state of an account."""

    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"
    LOCKED_UNTIL = "locked_until"


class IngestSource(StrEnum):
    TRADINGVIEW = "tradingview"
    PINESCRIPT = "pinescript"
    API = "api"
    MCP = "mcp"
    REPLAY = "replay"
    #: a bar-driven rule strategy inside at-agents (``AT_AGENTS_BAR_SIGNALS``), not an outside sender
    AGENT = "agent"


class PriceSource(StrEnum):
    """Where the price an order was decided, submitted or filled on came from.

    Events leave ``price_source`` empty (null) when the price was the market data exec-sim held;
    ``alert`` says a paper or simulated account traded on the alert's own price, because no
    fresher market data existed (bounded in age by exec-sim's ``alert_price_max_age_s``).
    """

    MARKET = "market"
    ALERT = "alert"


class MarketDataKind(StrEnum):
    BAR = "bar"
    QUOTE = "quote"
    TRADE = "trade"
