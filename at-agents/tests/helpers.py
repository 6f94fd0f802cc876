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


async def serve(app, port: int):  # type: ignore[no-untyped-def]
    """Start ``app`` under a real uvicorn on 127.0.0.1:``port`` and wait until /readyz answers 200."""
    import asyncio

    import httpx
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        for _ in range(400):  # startup connects to NATS in the background: poll readiness with a bound
            try:
                if (await client.get("/readyz")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    return server, task
