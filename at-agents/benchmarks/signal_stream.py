"""The signals the agents' benchmarks send: alternating "buy 1" / "sell 1" on MES, from the gateway.

Shared by ``bench_agents.py`` and ``bench_decision.py`` (imported from this folder: a script's own
folder is first on ``sys.path``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from decimal import Decimal

from at_core.clock import ManualClock
from at_core.events import EventFactory, SignalEvent
from at_core.ids import IdGenerator
from at_core.models.enums import AssetClass, IngestSource, SignalAction

T0 = 1_795_050_000_000_000_000
INSTRUMENT_ID = "MES.CME"


def signal_stream(
    n: int,
    clock: ManualClock,
    *,
    every_ns: int,
    price: Callable[[int], Decimal],
    ticker: str = "CME_MINI:MES1!",
    strategy_id: str = "bench",
    interval: str | None = None,
) -> Iterator[SignalEvent]:
    """``n`` signals, the i-th made at ``T0 + i * every_ns`` on ``clock`` (buy on even i, sell on odd).

    A generator: the caller may advance ``clock`` between two signals (a fill's time, say).
    """
    gateway = EventFactory("gateway", clock, IdGenerator(clock, random.Random(1)))
    for i in range(n):
        clock.advance_to(T0 + i * every_ns)
        yield gateway.make(
            SignalEvent,
            origin=IngestSource.TRADINGVIEW,
            account_id="paper-1",
            strategy_id=strategy_id,
            instrument_id=INSTRUMENT_ID,
            asset_class=AssetClass.FUTURE,
            ticker=ticker,
            action=SignalAction.BUY if i % 2 == 0 else SignalAction.SELL,
            quantity=Decimal(1),
            price=price(i),
            interval=interval,
        )
