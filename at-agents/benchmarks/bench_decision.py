"""Prints in-process committee decision latency (4 rule agents, no bus). Run: ../.venv/bin/python benchmarks/bench_decision.py"""

import asyncio
import random
import statistics
import time
from decimal import Decimal

from at_agents.bootstrap import build
from at_agents.config import AgentsSettings
from at_core.clock import ManualClock
from at_core.events import EventFactory, SignalEvent
from at_core.ids import IdGenerator
from at_core.models.enums import AssetClass, IngestSource, SignalAction

T0 = 1_795_050_000_000_000_000


async def main():
    svc = build(AgentsSettings(replay_mode=True), ManualClock(T0))
    clock = ManualClock(T0)
    f = EventFactory("gateway", clock, IdGenerator(clock, random.Random(1)))
    lat = []
    for i in range(2000):
        clock.advance_to(T0 + i * 10**9)
        s = f.make(
            SignalEvent,
            origin=IngestSource.TRADINGVIEW,
            account_id="paper-1",
            strategy_id="s",
            instrument_id="MES.CME",
            asset_class=AssetClass.FUTURE,
            ticker="MES",
            action=SignalAction.BUY if i % 2 == 0 else SignalAction.SELL,
            quantity=Decimal(1),
            price=Decimal(5000 + i % 7),
        )
        t = time.perf_counter()
        await svc.on_signal(s)
        lat.append((time.perf_counter() - t) * 1000)
    lat.sort()
    print(
        f"in-process committee decision (4 rule agents, no bus): n=2000 p50={lat[1000]:.3f}ms p99={lat[1980]:.3f}ms mean={statistics.mean(lat):.3f}ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
