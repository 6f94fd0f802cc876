"""Prints in-process committee decision latency (4 rule agents, no bus), and the SHA-256 of every
event the decisions made (replay mode: the same on every run and after any change that keeps the
decisions byte-identical). Run: ../.venv/bin/python benchmarks/bench_decision.py"""

import asyncio
import statistics
import time
from decimal import Decimal

from signal_stream import T0, signal_stream

from at_agents.bootstrap import build
from at_agents.config import AgentsSettings
from at_core.clock import ManualClock
from at_core.serialization import stream_sha256


async def main():
    svc = build(AgentsSettings(replay_mode=True), ManualClock(T0))
    lat = []
    made = []
    signals = signal_stream(
        2000, ManualClock(T0), every_ns=10**9, price=lambda i: Decimal(5000 + i % 7), ticker="MES", strategy_id="s"
    )
    for s in signals:
        t = time.perf_counter()
        made += await svc.on_signal(s)
        lat.append((time.perf_counter() - t) * 1000)
    lat.sort()
    print(
        f"in-process committee decision (4 rule agents, no bus): n=2000 p50={lat[1000]:.3f}ms p99={lat[1980]:.3f}ms mean={statistics.mean(lat):.3f}ms"
    )
    print(f"events: {len(made)}, sha256 {stream_sha256(made)}")


if __name__ == "__main__":
    asyncio.run(main())
