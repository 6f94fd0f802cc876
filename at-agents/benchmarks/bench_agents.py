"""CPU per alert of the agents' handlers, in process (no NATS): what ``make bench-e2e`` charges to agents.

One alert is what the e2e bench makes the agents handle: a "buy 1" / "sell 1" signal (the
default rule committee, live mode), then the fill's position (opened, then closed: a closed
one resolves memory) and account state. The bus and the memory bucket are stand-ins that
serialise what they are given (the bus as publishing does; the memory store is the real one
over an in-memory bucket) and answer at once, so what is timed is
this service's own work. Prints CPU µs per alert (``time.process_time``), the wall p50/p99 of
``on_signal``, and the path's CPU: from ``on_signal``'s start to its ``publish_many`` call (the
bus stand-in reads ``time.process_time`` when it is called), the part of a signal's handling that
delays its proposal's bytes (encoding and what follows the publish are not in it).

``--against REF`` runs the path figure alternately for ``REF``'s ``at-agents/src`` (``git
archive``, put first on ``PYTHONPATH``) and this tree's, each round in a fresh process, and prints
both medians and their ratio: a same-run comparison on a shared machine.

Run: ``.venv/bin/python at-agents/benchmarks/bench_agents.py [--alerts 3000] [--against main --rounds 5]``
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from decimal import Decimal
from pathlib import Path
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
    """Serialises every event (as publishing does) and acks at once; notes the CPU time it was called at."""

    def __init__(self) -> None:
        self.called_at = 0.0

    async def publish_many(self, events: list[Event]) -> None:
        self.called_at = time.process_time()
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
    bus = FakeBus()
    svc.bus = bus  # type: ignore[assignment]
    kv = FakeKv()
    svc.memory_store = MemoryStore(kv)  # type: ignore[arg-type]
    work = inputs(n + warmup)
    for sig, pos, acct in work[:warmup]:
        await svc.handle(sig)
        await svc.handle(pos)
        await svc.handle(acct)
    walls: list[float] = []
    paths: list[float] = []
    proposals = 0
    cpu0 = time.process_time()
    for sig, pos, acct in work[warmup:]:
        t = time.perf_counter()
        c = time.process_time()
        out = await svc.handle(sig)
        walls.append((time.perf_counter() - t) * 1e3)
        paths.append((bus.called_at - c) * 1e6)
        proposals += out[-1].event_type == "trade_proposal"
        await svc.handle(pos)
        await svc.handle(acct)
    cpu = time.process_time() - cpu0
    walls.sort()
    paths.sort()
    return {
        "path_p50_us": paths[len(paths) // 2],
        "path_mean_us": statistics.mean(paths),
        "cpu_us": cpu / n * 1e6,
        "p50": walls[len(walls) // 2],
        "p99": walls[int(len(walls) * 0.99)],
        "mean": statistics.mean(walls),
        "proposals": proposals,
        "puts": kv.puts,
    }


def measure(alerts: int, warmup: int) -> dict[str, Any]:
    with open(os.devnull, "w") as nowhere:
        configure_logging("agents", "INFO", nowhere)  # as the service logs, to nowhere
        return asyncio.run(run(alerts, warmup))


def against(ref: str, rounds: int, alerts: int, warmup: int) -> None:
    """The path figure for ``ref``'s at-agents and this tree's, alternately, each in its own process."""
    repo = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            [shutil.which("git") or "/usr/bin/git", "-C", str(repo), "archive", ref, "at-agents/src"],
            check=True,
            capture_output=True,
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        sides = {"base": f"{tmp}/at-agents/src", "new": None}
        got: dict[str, list[dict[str, Any]]] = {"base": [], "new": []}
        for i in range(rounds):
            for side in ("base", "new") if i % 2 == 0 else ("new", "base"):
                env = dict(os.environ)
                if sides[side] is not None:
                    env["PYTHONPATH"] = str(sides[side])
                cmd = [sys.executable, __file__, "--alerts", str(alerts), "--warmup", str(warmup), "--json"]
                out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
                got[side].append(json.loads(out.strip().splitlines()[-1]))
    med = {
        side: {k: statistics.median(r[k] for r in rs) for k in ("path_p50_us", "path_mean_us", "cpu_us")}
        for side, rs in got.items()
    }
    for side in ("base", "new"):
        runs = " / ".join(f"{r['path_p50_us']:.0f}" for r in got[side])
        print(
            f"{side:4} ({ref if side == 'base' else 'this tree'}): path CPU p50 {med[side]['path_p50_us']:.0f} µs "
            f"(runs {runs}), mean {med[side]['path_mean_us']:.0f} µs; CPU {med[side]['cpu_us']:.0f} µs/alert"
        )
    print(
        f"new/base: path p50 {med['new']['path_p50_us'] / med['base']['path_p50_us']:.2f}x, "
        f"path mean {med['new']['path_mean_us'] / med['base']['path_mean_us']:.2f}x, "
        f"CPU per alert {med['new']['cpu_us'] / med['base']['cpu_us']:.2f}x ({rounds} rounds each, alternating)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--against", metavar="REF", help="compare the path with this git ref's at-agents/src")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # one round, for --against
    args = parser.parse_args()
    if args.against:
        against(args.against, args.rounds, args.alerts, args.warmup)
        return
    r = measure(args.alerts, args.warmup)
    if args.json:
        print(json.dumps(r))
        return
    print(
        f"agents in process, {args.alerts} alerts (signal + position + account), default rule committee: "
        f"CPU {r['cpu_us']:.0f} µs/alert; on_signal wall p50 {r['p50']:.3f} ms p99 {r['p99']:.3f} ms "
        f"mean {r['mean']:.3f} ms; {r['proposals']} proposals, {r['puts']} memory puts; "
        f"path (on_signal start -> publish_many) CPU p50 {r['path_p50_us']:.0f} µs mean {r['path_mean_us']:.0f} µs"
    )


if __name__ == "__main__":
    main()
