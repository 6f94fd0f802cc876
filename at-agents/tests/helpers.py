"""Builders for agents tests."""

from __future__ import annotations

import random
from decimal import Decimal

from at_core.clock import ManualClock
from at_core.events import EventFactory, SignalEvent
from at_core.ids import IdGenerator
from at_core.models.enums import AssetClass, IngestSource, PositionSide, SignalAction

T0 = 1_795_050_000_000_000_000
D = Decimal


def factory(seed: int = 3) -> EventFactory:
    clock = ManualClock(T0)
    return EventFactory("gateway", clock, IdGenerator(clock, random.Random(seed)))


def signal(
    f: EventFactory,
    instrument_id: str = "MES.CME",
    action: SignalAction = SignalAction.BUY,
    quantity: str | None = "2",
    position_size: str | None = None,
    price: str | None = "5000",
    account: str = "paper-1",
    asset_class: AssetClass = AssetClass.FUTURE,
    stop: str | None = None,
) -> SignalEvent:
    return f.make(
        SignalEvent,
        origin=IngestSource.TRADINGVIEW,
        account_id=account,
        strategy_id="s",
        instrument_id=instrument_id,
        asset_class=asset_class,
        ticker=instrument_id,
        action=action,
        quantity=D(quantity) if quantity else None,
        position_size=D(position_size) if position_size is not None else None,
        price=D(price) if price else None,
        stop_price=D(stop) if stop else None,
        market_position=PositionSide.LONG if action is SignalAction.BUY else None,
    )
