"""`make bench-burst`: the e2e burst (1,000 alerts in 10 s, each on its own account) as figures.

Starts the same stack as the e2e tests (``e2e.stack_harness.LiveStack``: embedded NATS, the four
services and the recorder, least-privilege users), posts 1,000 TradingView alerts paced at
100/s, and prints how long the gateway took to answer them (TradingView gives up after 3 s),
the CPU each process used while they arrived (cores), and how long after the last answer every
alert had its fill. Asserts nothing: the e2e test checks that all of them are processed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from e2e.stack_harness import LiveStack, account_secret, alert
from tools.bench_e2e import pct
from tools.proc_cpu import cpu_seconds, process_groups

console = Console(highlight=False)


async def burst(run_dir: Path, n: int, rate: float) -> None:
    live = LiveStack(run_dir, accounts=n)
    await live.start()
    await live.tracer.stop()  # outcomes come from the ledger; decoding every event here costs the stack CPU
    answers: list[float] = []
    try:
        async with live.http("gateway", connections=250, keepalive=False) as http:
            loop = asyncio.get_running_loop()

            async def post(i: int) -> str:
                await asyncio.sleep(max(0.0, start + i / rate - loop.time()))
                t0 = time.perf_counter()
                correlation = await live.post_alert(http, alert(i, long=i % 2 == 0), account_secret(i))
                answers.append((time.perf_counter() - t0) * 1000)
                return correlation

            pids = process_groups({name: proc.pid for name, proc in live.procs.procs.items()})
            cpu0, wall0, own0 = cpu_seconds(pids), time.monotonic(), time.process_time()
            start = loop.time()
            correlations = await asyncio.gather(*(post(i) for i in range(n)))
            posted = loop.time() - start
            wall = time.monotonic() - wall0
            cpu1, own = cpu_seconds(pids), time.process_time() - own0
        settle0 = time.monotonic()
        await live.ledger.wait_until(lambda ledger: ledger.settled(list(correlations)), timeout=300)
        settled = time.monotonic() - settle0
        bad = live.ledger.not_exactly_one_filled_order(list(correlations))
    finally:
        await live.stop()

    table = Table(title=f"{n} alerts at {rate:.0f}/s: gateway answer (ms), all 202")
    for col in ("p50", "p90", "p99", "max", "posting took"):
        table.add_column(col)
    table.add_row(
        *(f"{pct(answers, q):.1f}" for q in (0.5, 0.9, 0.99)),
        f"{max(answers):.1f}",
        f"{posted:.1f} s (paced {n / rate:.0f} s)",
    )
    console.print(table)
    cpu = Table(title="CPU while the alerts arrived (cores; 2 on this machine)")
    for name in [*pids, "bench client"]:
        cpu.add_column(name)
    cpu.add_row(*(f"{(cpu1[k] - cpu0[k]) / wall:.2f}" for k in pids), f"{own / wall:.2f}")
    console.print(cpu)
    console.print(
        f"every alert settled {settled:.1f} s after the last answer; "
        f"{n - len(bad)}/{n} ended in exactly one filled order"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-burst-") as tmp:
        asyncio.run(burst(Path(tmp) / "stack", args.alerts, args.rate))
    return 0


if __name__ == "__main__":
    sys.exit(main())
