"""Events the gateway's tests publish directly (past the HTTP edge): one factory, fixed clock and seed."""

from __future__ import annotations

import random

from at_core.clock import ManualClock
from at_core.events import EventFactory, MarketDataEvent, QuoteData, SignalEvent
from at_core.ids import IdGenerator
from at_core.models.enums import AssetClass, IngestSource, SignalAction

CLOCK = ManualClock(1_795_000_000_000_000_000)
FACTORY = EventFactory("gateway", CLOCK, IdGenerator(CLOCK, random.Random(11)))


def signal(account: str = "paper-1", instrument: str = "MES.CME", alert_id: str | None = None) -> SignalEvent:
    """A TradingView "buy" signal for ``account`` on ``instrument``."""
    return FACTORY.make(
        SignalEvent,
        origin=IngestSource.TRADINGVIEW,
        account_id=account,
        strategy_id="default",
        instrument_id=instrument,
        asset_class=AssetClass.FUTURE,
        ticker="MES1!",
        action=SignalAction.BUY,
        alert_id=alert_id,
    )


def quote(instrument: str) -> MarketDataEvent:
    """A quote on ``instrument`` (no account: an event with no lane)."""
    data = QuoteData(bid="6012.00", ask="6012.25", bid_size="1", ask_size="1")
    return FACTORY.make(MarketDataEvent, instrument_id=instrument, venue="CME", data=data)
