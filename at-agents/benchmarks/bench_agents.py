"""CPU per alert of the agents' handlers, in process (no NATS): what ``make bench-e2e`` charges to agents.

One alert is what the e2e bench makes the agents handle: a "buy 1" / "sell 1" signal (the
default rule committee, live mode), then the fill's position (opened, then closed: a closed
one resolves memory) and account state. The bus and the memory bucket are stand-ins that
serialise what they are given (the bus as publishing does; the memory store is the real one
over an in-memory bucket) and answer at once, so what is timed is
this service's own work. Prints CPU µs per alert (``time.process_time``) and the wall p50/p99 of
``on_signal``.

Run: ``.venv/bin/python at-agents/benchmarks/bench_agents.py [--alerts 3000]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from decimal import Decimal
from typing import Any

from signal_stream import T0, signal_stream

from at_agents.adapters.memory_store import MemoryStore
from at_agents.bootstrap import build
from at_agents.config import AgentsSettings
from at_core.clock import ManualClock
from at_core.events import AccountStateEvent, Event, EventFactory, PositionEvent, SignalEvent
from at_core.ids import IdGenerator
from at_core.models.enums import PositionSide, TradingState
from at_core.models.portfolio import PositionSnapshot
from at_core.runtime.logging import configure_logging
from at_core.serialization import encode_event

PRICE = Decimal("6012.25")


class FakeBus:
    """Serialises every event (as publishing does) and acks at once."""

    async def publish_many(self, events: list[Event]) -> None:
        for e in events:
            encode_event(e)

    async def publish(self, event: Event) -> None:
        encode_event(event)


class FakeKv:
    """The memory bucket: takes the value the real store encodes, stores at once."""

    def __init__(self) -> None:
        self.puts = 0

    async def put(self, key: str, value: bytes) -> int:
        self.puts += 1
        return self.puts


def inputs(n: int) -> list[tuple[SignalEvent, PositionEvent, AccountStateEvent]]:
    clock = ManualClock(T0)
    ex = EventFactory("exec_sim", clock, IdGenerator(clock, random.Random(2)))
    out = []
    signals = signal_stream(n, clock, every_ns=20_000_000, price=lambda _: PRICE, interval="1")
    for i, sig in enumerate(signals):
        long = i % 2 == 0
        clock.advance(1_000_000)
        snap = PositionSnapshot(
            account_id="paper-1",
            instrument_id="MES.CME",
            quantity=Decimal(1) if long else Decimal(0),
            side=PositionSide.LONG if long else PositionSide.FLAT,
            avg_price=PRICE,
            realized_pnl=Decimal(-i) / 2,
            unrealized_pnl=Decimal(0),
            fees=Decimal(0),
            currency="USD",
            last_price=PRICE,
        )
        pos = ex.make(PositionEvent, cause=sig, position=snap, change="opened" if long else "closed")
        acct = ex.make(
            AccountStateEvent,
            cause=sig,
            account_id="paper-1",
            currency="USD",
            balance=Decimal(50000),
            equity=Decimal(50000) - Decimal(i) / 2,
            realized_pnl_today=Decimal(0),
            unrealized_pnl=Decimal(0),
            fees_today=Decimal(0),
            trading_state=TradingState.ACTIVE,
        )
        out.append((sig, pos, acct))
    return out


async def run(n: int, warmup: int) -> dict[str, Any]:
    svc = build(AgentsSettings(replay_mode=False, seed=1))
    svc.bus = FakeBus()  # type: ignore[assignment]
    kv = FakeKv()
    svc.memory_store = MemoryStore(kv)  # type: ignore[arg-type]
    work = inputs(n + warmup)
    for sig, pos, acct in work[:warmup]:
        await svc.handle(sig)
        await svc.handle(pos)
        await svc.handle(acct)
    walls: list[float] = []
    proposals = 0
    cpu0 = time.process_time()
    for sig, pos, acct in work[warmup:]:
        t = time.perf_counter()
        out = await svc.handle(sig)
        walls.append((time.perf_counter() - t) * 1e3)
        proposals += out[-1].event_type == "trade_proposal"
        await svc.handle(pos)
        await svc.handle(acct)
    cpu = time.process_time() - cpu0
    walls.sort()
    return {
        "cpu_us": cpu / n * 1e6,
        "p50": walls[len(walls) // 2],
        "p99": walls[int(len(walls) * 0.99)],
        "mean": statistics.mean(walls),
        "proposals": proposals,
        "puts": kv.puts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=300)
    args = parser.parse_args()
    with open(os.devnull, "w") as nowhere:
        configure_logging("agents", "INFO", nowhere)  # as the service logs, to nowhere
        r = asyncio.run(run(args.alerts, args.warmup))
    print(
        f"agents in process, {args.alerts} alerts (signal + position + account), default rule committee: "
        f"CPU {r['cpu_us']:.0f} µs/alert; on_signal wall p50 {r['p50']:.3f} ms p99 {r['p99']:.3f} ms "
        f"mean {r['mean']:.3f} ms; {r['proposals']} proposals, {r['puts']} memory puts"
    )


if __name__ == "__main__":
    main()
