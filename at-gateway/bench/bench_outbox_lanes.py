"""One position stuck in the outbox: how many unrelated alerts go to disk, with lanes and without.

Runs, each in its own process against its own real nats-server, the publisher of this tree and the one of
``--baseline`` (a git ref: its ``at-gateway/src`` is extracted to a temporary directory and put
first on ``PYTHONPATH``; by default the last commit before ordering lanes). Each: one signal for
``paper-0``/``MES.CME`` is queued in the outbox (no time left to wait for JetStream) and the drain is
not started, as if that position's ack were slow; then ``--n`` signals round-robin over ``--lanes``
positions (accounts x instruments, the stuck one included) are published through
``DurablePublisher.publish`` with NATS up. Prints, per publisher, how many of them went to the
outbox (the stuck lane's own and the unrelated ones), ``event_queued_in_outbox`` lines logged, the
process CPU and wall time per publish, then drains and checks JetStream holds every signal once,
each lane in the order published. Then both again with nothing stuck (every publish to JetStream):
the CPU the lane rule adds to the common path. Asserts nothing: figures live here and in the README, never in tests.

    .venv/bin/python at-gateway/bench/bench_outbox_lanes.py [--n 2000] [--lanes 40] [--baseline REF]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

BEFORE_LANES = "c8cd49b"  # main just before ordering lanes: every publish waited while anything was queued
ACCOUNTS = (
    "paper-0",
    "paper-1",
    "paper-2",
    "paper-3",
    "paper-4",
    "paper-5",
    "paper-6",
    "paper-7",
    "paper-8",
    "paper-9",
)
INSTRUMENTS = ("MES.CME", "MNQ.CME", "ES.CME", "NQ.CME", "RTY.CME", "YM.CME", "CL.NYMEX", "GC.COMEX")


def _positions(lanes: int) -> list[tuple[str, str]]:
    every = [(a, i) for i in INSTRUMENTS for a in ACCOUNTS]
    if not 1 <= lanes <= len(every):
        raise SystemExit(f"--lanes is between 1 and {len(every)}")
    return every[:lanes]  # the first is paper-0/MES.CME, the stuck one


async def _measure(nats_url: str, n: int, lanes: int, workdir: Path, stuck_lane: bool) -> dict:
    """Run in the child: this interpreter's at_gateway is the publisher under test."""
    from at_core.clock import ManualClock
    from at_core.events import EventFactory, SignalEvent
    from at_core.ids import IdGenerator
    from at_core.metrics.gateway import CATALOG
    from at_core.models.enums import AssetClass, IngestSource, SignalAction
    from at_core.runtime.bus import EventBus
    from at_core.runtime.logging import configure_logging
    from at_core.serialization import decode_event
    from at_gateway.adapters import publisher as publisher_module
    from at_gateway.adapters.outbox import Outbox
    from at_gateway.adapters.publisher import DurablePublisher

    log_path = workdir / "gateway.log"
    with log_path.open("w") as log_file:
        configure_logging("gateway", "INFO", stream=log_file)
        clock = ManualClock(1_795_000_000_000_000_000)
        factory = EventFactory("gateway", clock, IdGenerator(clock, random.Random(5)))

        def signal(account: str, instrument: str, k: int) -> SignalEvent:
            return factory.make(
                SignalEvent,
                origin=IngestSource.TRADINGVIEW,
                account_id=account,
                strategy_id="bench",
                instrument_id=instrument,
                asset_class=AssetClass.FUTURE,
                ticker=instrument.split(".")[0] + "1!",
                action=SignalAction.BUY,
                alert_id=f"a{k}",
            )

        positions = _positions(lanes)
        stuck = positions[0]
        events = [signal(*positions[k % lanes], k + 1) for k in range(n)]
        bus = await EventBus.connect(nats_url, service="gateway", metrics=CATALOG.build())
        await bus.ensure_streams()
        js = bus.nc.jetstream()
        with tempfile.TemporaryDirectory() as tmp:
            outbox = Outbox(Path(tmp) / "outbox.sqlite3")
            pub = DurablePublisher(bus, outbox, CATALOG.build(), timeout_s=1.0)
            for warm in range(20):  # not counted: connection and routes warmed
                await pub.publish(signal("paper-warm", "MES.CME", -1 - warm))
            base = (await js.stream_info("AT_SIGNALS")).state.last_seq
            if stuck_lane:
                first = signal(*stuck, 0)
                assert (await pub.publish(first, budget_s=0)).sink == "outbox"  # the slow ack: it waits
            cpu, wall = time.process_time(), time.perf_counter()
            sinks = [(await pub.publish(e)).sink for e in events]
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            own = [s for e, s in zip(events, sinks, strict=True) if (e.account_id, e.instrument_id) == stuck]
            other = [s for e, s in zip(events, sinks, strict=True) if (e.account_id, e.instrument_id) != stuck]
            queued_depth = outbox.depth()
            while outbox.depth():
                if not await pub.drain_once():
                    raise RuntimeError("the drain made no progress")
            outbox.close()
        last = (await js.stream_info("AT_SIGNALS")).state.last_seq
        stored = [decode_event((await js.get_msg("AT_SIGNALS", seq)).data) for seq in range(base + 1, last + 1)]
        await bus.close()
    order: dict[tuple[str, str], list[int]] = {}
    for e in stored:
        order.setdefault((e.account_id, e.instrument_id), []).append(int(e.alert_id[1:]))
    published = {p: [k + 1 for k in range(n) if positions[k % lanes] == p] for p in positions}
    if stuck_lane:
        published[stuck] = [0, *published[stuck]]
    lines = sum('"event_queued_in_outbox"' in line for line in log_path.read_text().splitlines())
    return {
        "publisher": publisher_module.__file__,
        "n": n,
        "lanes": lanes,
        "stuck_lane_to_outbox": f"{own.count('outbox')}/{len(own)}",
        "unrelated_to_outbox": f"{other.count('outbox')}/{len(other)}",
        "unrelated_to_outbox_n": other.count("outbox"),
        "outbox_depth_before_drain": queued_depth,
        "queued_log_lines": lines,
        "cpu_us_per_publish": round(cpu / n * 1e6, 1),
        "wall_us_per_publish": round(wall / n * 1e6, 1),
        "each_lane_once_in_order": order == published,
    }


def _child(src: Path | None, n: int, lanes: int, stuck: bool) -> dict:
    """One measurement in its own process, against its own nats-server (the events are the same
    bytes in both runs: one server would drop the second run's as duplicates)."""
    from at_core.testing import NatsServer

    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    nats_server = NatsServer().start()
    try:
        with tempfile.TemporaryDirectory() as workdir:
            cmd = [sys.executable, __file__, "--child", nats_server.url, "--n", str(n), "--lanes", str(lanes)]
            cmd += ["--stuck"] if stuck else []
            out = subprocess.run([*cmd, "--workdir", workdir], env=env, check=True, capture_output=True, text=True)
    finally:
        nats_server.stop()
    return json.loads(out.stdout.strip().splitlines()[-1])


def _rule_cost_us() -> float:
    """CPU of the lane rule per publish (``lane_of`` and ``holds_back``, one lane queued), min of 5."""
    import timeit

    from at_core.testing import example_events
    from at_gateway.domain.lanes import QueuedLanes, lane_of

    signal, queued, n = example_events()["signal"], QueuedLanes([(("paper-9", "CL.NYMEX"), 1)]), 100_000
    timer = timeit.Timer(lambda: queued.holds_back(lane_of(signal)), timer=time.process_time)
    return min(timer.repeat(5, n)) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--lanes", type=int, default=40)
    parser.add_argument("--baseline", default=BEFORE_LANES, help="git ref of the publisher to compare with")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--stuck", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_measure(args.child, args.n, args.lanes, Path(args.workdir), args.stuck))))
        return

    repo = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory() as old:
        git = shutil.which("git") or "git"
        archive = subprocess.run(
            [git, "-C", str(repo), "archive", args.baseline, "at-gateway/src"], check=True, capture_output=True
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(old, filter="data")
        src = Path(old) / "at-gateway" / "src"
        results = {  # interleaved, so the shared machine's load drifts over both alike
            f"baseline {args.baseline}, one lane stuck": _child(src, args.n, args.lanes, stuck=True),
            "this tree, one lane stuck": _child(None, args.n, args.lanes, stuck=True),
            f"baseline {args.baseline}, outbox empty": _child(src, args.n, args.lanes, stuck=False),
            "this tree, outbox empty": _child(None, args.n, args.lanes, stuck=False),
        }
    for name, r in results.items():
        print(f"{name} ({r['publisher']})")
        for key in (
            "stuck_lane_to_outbox",
            "unrelated_to_outbox",
            "outbox_depth_before_drain",
            "queued_log_lines",
            "cpu_us_per_publish",
            "wall_us_per_publish",
            "each_lane_once_in_order",
        ):
            print(f"  {key:28} {r[key]}")
    before, after, clear_before, clear_after = results.values()
    print(
        f"one lane stuck: unrelated alerts sent to disk {before['unrelated_to_outbox_n']} -> "
        f"{after['unrelated_to_outbox_n']}, wall per publish {before['wall_us_per_publish']} -> "
        f"{after['wall_us_per_publish']} us; outbox empty (the lane rule's cost on the JetStream path): "
        f"CPU per publish {clear_before['cpu_us_per_publish']} -> {clear_after['cpu_us_per_publish']} us "
        f"(ratio {clear_after['cpu_us_per_publish'] / clear_before['cpu_us_per_publish']:.2f}); "
        f"the rule alone: {_rule_cost_us():.2f} us CPU per publish"
    )


if __name__ == "__main__":
    main()
