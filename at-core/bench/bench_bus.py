"""CPU per event on the bus: what at-core's runtime costs each service per published and consumed event.

Run: ``.venv/bin/python at-core/bench/bench_bus.py [--events 20000] [--batch 8] [--repeat 3]``
(from the repository root). Starts a real nats-server (JetStream, temporary store), then, in one
process with logging configured as a service's (INFO, JSON lines, to /dev/null):

1. codec: ``encode_event`` and ``decode_event`` of the same events, in process (no I/O);
2. publish_many: the events in batches of ``--batch`` (what exec-sim and agents do with what one
   input produced), every one JetStream-acknowledged;
3. publish: one at a time, each awaiting its ack (the gateway's way; a quarter as many events);
4. consume: the stored events through durable pull consumers (``EventBus.consume``: decode,
   origin check, handler, ack), one per subject family of the stream.

The events are at-core's examples of every execution-stream type (risk decisions, orders, fills,
positions, accounts, trading states), each with a fresh id so JetStream stores every one. Each
phase prints CPU µs per event (``time.process_time`` of this process: the Python side, the
nats-server's own CPU excluded) and events/s in wall time, the best of ``--repeat`` runs (the
machine is shared: CPU time is the figure to compare). Numbers, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from at_core import subjects
from at_core.clock import ManualClock
from at_core.events import Event
from at_core.ids import IdGenerator
from at_core.metrics import MetricCatalog
from at_core.runtime.bus import Delivery, EventBus
from at_core.runtime.logging import configure_logging
from at_core.serialization import decode_event, encode_event
from at_core.testing import NatsServer
from at_core.testing.examples import all_examples

STREAM = "AT_EXECUTION"
FAMILIES = (
    subjects.RISK_DECISIONS,
    subjects.ORDERS,
    subjects.FILLS,
    subjects.POSITIONS,
    subjects.ACCOUNTS,
    subjects.TRADING_STATES,
)


@dataclass(frozen=True, slots=True)
class Figure:
    cpu_s: float
    wall_s: float
    events: int

    def line(self, name: str) -> str:
        return (
            f"{name:<14} {self.cpu_s / self.events * 1e6:8.1f} µs CPU/event  "
            f"{self.events / self.wall_s:10,.0f} events/s  ({self.events:,} events)"
        )


def execution_events(n: int, ids: IdGenerator) -> list[Event]:
    """``n`` events cycling through every execution-stream example, each with a fresh id."""
    kinds = [
        e for e in all_examples() if (s := subjects.stream_for_subject(subjects.subject_for(e))) and s.name == STREAM
    ]
    return [kinds[i % len(kinds)].model_copy(update={"event_id": ids.new()}) for i in range(n)]


async def timed(events: int, body: Callable[[], Awaitable[None]]) -> Figure:
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    await body()
    return Figure(time.process_time() - cpu, time.perf_counter() - wall, events)


def codec(events: list[Event]) -> tuple[Figure, Figure]:
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    encoded = [encode_event(e) for e in events]
    enc = Figure(time.process_time() - cpu, time.perf_counter() - wall, len(events))
    cpu, wall = time.process_time(), time.perf_counter()
    for data in encoded:
        decode_event(data)
    dec = Figure(time.process_time() - cpu, time.perf_counter() - wall, len(events))
    return enc, dec


async def one_run(url: str, n: int, batch: int, ids: IdGenerator) -> dict[str, Figure]:
    bus = await EventBus.connect(
        url, service="exec_sim", metrics=MetricCatalog("exec_sim").build(), create_consumers=True
    )
    await bus.ensure_streams()
    await bus.js.purge_stream(STREAM)
    figures: dict[str, Figure] = {}
    events = execution_events(n, ids)
    figures["encode"], figures["decode"] = codec(events)

    async def many() -> None:
        for i in range(0, len(events), batch):
            await bus.publish_many(events[i : i + batch])

    figures["publish_many"] = await timed(n, many)
    singles = execution_events(n // 4, ids)

    async def each() -> None:
        for event in singles:
            await bus.publish(event)

    figures["publish"] = await timed(len(singles), each)
    total = n + len(singles)
    seen = 0
    done = asyncio.Event()

    async def handler(event: Event, delivery: Delivery) -> None:
        nonlocal seen
        seen += 1
        if seen == total:
            done.set()

    async def consume() -> None:
        token = ids.new().lower()
        for i, family in enumerate(FAMILIES):
            await bus.consume(family, handler, durable=f"bench-{token}-{i}", stream=STREAM, batch=64)
        await done.wait()

    figures["consume"] = await timed(total, consume)
    await bus.close()
    return figures


async def main_async(args: argparse.Namespace) -> None:
    ids = IdGenerator(ManualClock(1_700_000_000_000_000_000), random.Random(11))
    best: dict[str, Figure] = {}
    with NatsServer() as server:
        for _ in range(args.repeat):
            for name, fig in (await one_run(server.url, args.events, args.batch, ids)).items():
                if name not in best or fig.cpu_s / fig.events < best[name].cpu_s / best[name].events:
                    best[name] = fig
    print(f"bus bench: {args.events:,} execution events, publish_many batches of {args.batch}, best of {args.repeat}")
    for name, fig in best.items():
        print(fig.line(name))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with open(os.devnull, "w") as sink:  # a service's log lines, rendered and written, not shown
        configure_logging("exec_sim", "INFO", sink)
        asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
