"""``make bench-backtest``: one-minute bars with an alert every hour through the whole stack, in events/s.

Synthetic MES one-minute bars (a seeded random walk on the tick grid), 23 hours a day from
17:00 CT (18:00 New York; the 15:10-17:00 CT Topstep lock is avoided by trading the paper
account), weekdays only; every hour an alert enters or exits a one-lot long. Prints the bars,
alerts and events in and out, the stack's start-up time, the replay's events/s, the CPU seconds
each process spent on the replay (a shared machine's wall time is noisy; CPU is not) and what a
year (252 days) would take at that rate. ``--days`` sets the length (the target is a year: 252).
``--signals agents:ma_cross:fast=10,slow=30`` runs the bars alone with the agents' bar strategy
as the signal source instead of the hourly alerts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from at_core.symbols import normalize_ticker
from at_obs.backtest.agent_signals import parse_signal_source, with_agent_signals
from at_obs.backtest.bars import Bar, BarSeries
from at_obs.backtest.pipeline import run_through_stack
from at_obs.backtest.recording import Target, build_inputs
from at_obs.backtest.stack import StackSettings
from at_obs.backtest.tv_trades import TvTrade

MINUTE = 60 * 10**9
TICK = Decimal("0.25")


def synthetic(days: int, seed: int = 1) -> tuple[BarSeries, tuple[TvTrade, ...]]:
    rng = random.Random(seed)
    bars: list[Bar] = []
    trades: list[TvTrade] = []
    price = Decimal(6000)
    day = datetime(2026, 1, 4, 23, 0, tzinfo=UTC)  # Sunday 17:00 CT
    traded = 0
    while traded < days:
        if day.weekday() in (4, 5):  # sessions open Sunday to Thursday evenings
            day += timedelta(days=1)
            continue
        start = int(day.timestamp()) * 10**9
        for m in range(23 * 60):
            o = price
            c = max(TICK, o + TICK * rng.randint(-4, 4))
            bars.append(Bar(start + m * MINUTE, o, max(o, c) + TICK, min(o, c) - TICK, c, Decimal(rng.randint(1, 500))))
            price = c
        for h in range(0, 22, 2):  # enter at the hour, exit the next hour: an alert every hour
            entry, exit_ = bars[-23 * 60 + h * 60], bars[-23 * 60 + (h + 1) * 60]
            trades.append(
                TvTrade(len(trades) + 1, "long", Decimal(1), entry.ts_open_ns, entry.open, "Long", exit_.ts_open_ns,
                        exit_.open, "Close", None, 0)
            )  # fmt: skip
        traded += 1
        day += timedelta(days=1)
    return BarSeries(tuple(bars), "1", MINUTE), tuple(trades)


def _cpu_by_process() -> dict[str, float]:
    """CPU seconds of this process and of every process under it, by name (Linux ``/proc``; else empty)."""
    try:
        parents: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
                parents[int(entry)] = int(stat[stat.rfind(")") + 2 :].split()[1])
        tick = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return {}
    out: dict[str, float] = {}
    todo = [os.getpid()]
    while todo:
        pid = todo.pop()
        todo += [child for child, parent in parents.items() if parent == pid]
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/cmdline") as f:
                argv = f.read().split("\0")
        except OSError:  # ended in between
            continue
        name = "driver" if pid == os.getpid() else next(
            (os.path.basename(a) for a in argv if a.startswith(("at-", "nats-server")) or "/at-" in a or "nats-server" in a),
            "other",
        )  # fmt: skip
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


async def _run(days: int, signals: str | None = None) -> None:
    series, trades = synthetic(days)
    target = Target(normalize_ticker("CME_MINI:MES1!"), "CME_MINI:MES1!", "paper-1", "bench")
    if signals is not None:
        trades = ()
    inputs = build_inputs(series, trades, target)
    if signals is not None:
        inputs = with_agent_signals(inputs, parse_signal_source(signals), target, series.interval)
    first: list[float] = []
    cpu: list[dict[str, float]] = []
    started = time.perf_counter()

    def progress() -> None:
        if not first:
            first.append(time.perf_counter())
            cpu.append(_cpu_by_process())

    def stopping() -> None:
        cpu.append(_cpu_by_process())

    run = await run_through_stack(inputs, StackSettings(), timeout_s=60, progress=progress, done=stopping)
    done = time.perf_counter()
    replay_s = done - (first[0] if first else started)
    rate = (len(inputs) + len(run.outputs)) / max(replay_s, 1e-9)
    year = 252 * (len(inputs) + len(run.outputs)) / days / rate
    made = sum(1 for e in inputs if e.event_type == "signal")
    source = f"{made} signals from {signals}" if signals else f"{2 * len(trades)} alerts"
    print(f"days {days}: {len(series.bars)} one-minute bars, {source}")
    print(
        f"events in {len(inputs)}, out {len(run.outputs)}; stack start and first input {(first[0] if first else done) - started:.1f} s"
    )
    print(f"replay {replay_s:.1f} s: {len(inputs) / replay_s:,.0f} inputs/s, {rate:,.0f} events/s (in + out)")
    if len(cpu) == 2 and cpu[0] and cpu[1]:
        spent = {name: cpu[1][name] - cpu[0].get(name, 0.0) for name in sorted(cpu[1])}
        parts = ", ".join(f"{name} {s:.1f}" for name, s in spent.items())
        print(f"replay CPU s: {parts}; total {sum(spent.values()):.1f}")
    print(f"a year (252 days) at this rate: {year / 60:,.1f} min (target: under 5 min)")
    for warning in run.warnings[:5]:
        print(f"warning: {warning}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=1, help="trading days of one-minute bars (a year: 252)")
    parser.add_argument("--signals", default=None, help="agents:KIND:k=v,... (the agents' bar strategy, no alerts)")
    args = parser.parse_args()
    asyncio.run(_run(args.days, args.signals))


if __name__ == "__main__":
    main()
