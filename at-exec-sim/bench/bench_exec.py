"""exec-sim throughput: in-process, over NATS, and nautilus_trader's BacktestEngine as a reference.

Run: ``.venv/bin/python at-exec-sim/bench/bench_exec.py [--quotes 20000] [--every 10]``
(from the repository root; ``make bench-exec``). Prints, in one run:

1. market-data events plus proposals per second through risk + venue + portfolio, in process;
2. the same stream through the service over a real nats-server (JetStream in, JetStream out,
   every output acknowledged);
3. nautilus_trader's BacktestEngine on the same quotes and orders, when it is installed;
4. the cost of a quote as the number of accounts grows (the shipped 5, then 1,000 more, a
   position in every tenth): what a firm with many accounts on one instance pays per tick.

Numbers, not assertions: speed targets are never tests.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.helpers and tests.reference_nautilus

from tests.helpers import T0, engine, factory, proposal, quote  # noqa: E402

from at_core.events import Event  # noqa: E402
from at_core.metrics import MetricCatalog  # noqa: E402
from at_core.models.enums import OrderSide  # noqa: E402
from at_core.runtime.bus import EventBus  # noqa: E402
from at_core.runtime.logging import configure_logging  # noqa: E402
from at_core.runtime.provision import provision  # noqa: E402
from at_core.testing import NatsServer  # noqa: E402
from at_exec_sim.domain.accounts import AccountConfig  # noqa: E402
from at_exec_sim.domain.portfolio import Account  # noqa: E402
from at_exec_sim.domain.records import AccountRuntime  # noqa: E402
from at_exec_sim.domain.rules import RuleState  # noqa: E402

MS = 1_000_000
INSTRUMENT = "ES.CME"


def stream(n_quotes: int, every: int) -> tuple[list[Event], list[tuple[str, str, str, tuple[str, str] | None]]]:
    """Quotes on ES with a 1-lot market order after every ``every``-th quote, alternating buy and sell."""
    f = factory()
    events: list[Event] = []
    steps = []
    price = Decimal("5000.00")
    for i in range(n_quotes):
        price += Decimal("0.25") * ((i * 7919) % 9 - 4)
        ts = T0 + i * MS
        f.clock.set(ts)
        bid, ask = str(price), str(price + Decimal("0.25"))
        events.append(quote(f, INSTRUMENT, bid, ask))
        order = None
        if i % every == every - 1:
            side = OrderSide.BUY if (i // every) % 2 == 0 else OrderSide.SELL
            events.append(proposal(f, "paper-1", INSTRUMENT, side, "1"))
            order = (str(side), "1")
        steps.append((ts, bid, ask, order))
    return events, steps


def in_process(events: list[Event]) -> tuple[float, int]:
    eng = engine()
    outputs = 0
    started = time.perf_counter()
    for ev in events:
        eng.clock.advance_to(ev.ts_event)
        out = eng.on_market_data(ev) if ev.event_type == "market_data" else eng.on_proposal(ev)
        outputs += len(out)
    return time.perf_counter() - started, outputs


async def over_nats(events: list[Event]) -> tuple[float, float, int]:
    from at_exec_sim import bootstrap, consumers
    from at_exec_sim.config import ExecSimSettings

    with NatsServer() as server:
        bus = await EventBus.connect(server.url, service="bench", metrics=MetricCatalog("bench").build())
        await provision(bus.js)  # streams and durables, as the stack's provisioning step makes them
        t0 = time.perf_counter()
        for chunk in range(0, len(events), 500):
            await asyncio.gather(*(bus.publish(e) for e in events[chunk : chunk + 500]))
        publish_s = time.perf_counter() - t0
        svc = bootstrap.build(ExecSimSettings(nats_url=server.url, replay_mode=True))
        handled, done = 0, asyncio.Event()
        first: list[float] = []
        inner = svc.handle

        async def counting(event: Event, delivery=None) -> list[Event]:
            nonlocal handled
            if not first:
                first.append(time.perf_counter())
            out = await inner(event, delivery)
            handled += 1
            if handled == len(events):
                done.set()
            return out

        svc.handle = counting  # type: ignore[method-assign]
        await consumers.start(svc)
        await asyncio.wait_for(done.wait(), 600)
        elapsed = time.perf_counter() - first[0]
        await bootstrap.stop(svc)
        await bus.close()
        return elapsed, publish_s, len(svc.engine.fills)


def nautilus(steps) -> float | None:
    try:
        from tests.reference_nautilus import Step, run_reference
    except ImportError:
        return None
    nt_steps = [Step(ts, bid, ask, order) for ts, bid, ask, order in steps]
    started = time.perf_counter()
    run_reference("ES", nt_steps)
    return time.perf_counter() - started


def per_quote_us(extra_accounts: int, quotes: int = 2_000) -> tuple[int, float]:
    """Microseconds per quote on ES with the shipped accounts plus ``extra_accounts`` retail ones,
    every tenth of them holding one ES."""
    eng = engine()
    profile = eng.accounts["paper-1"].config.profile
    for i in range(extra_accounts):
        account_id = f"bench-{i:04d}"
        start = profile.starting_balance
        eng.accounts[account_id] = AccountRuntime(
            AccountConfig(account_id, profile), Account(account_id, profile.currency, start, start), RuleState(profile)
        )
    f = factory()
    eng.on_market_data(quote(f, INSTRUMENT, "5000.00", "5000.25"))
    for i in range(0, extra_accounts, 10):
        eng.on_proposal(proposal(f, f"bench-{i:04d}", INSTRUMENT, OrderSide.BUY, "1"))
    started = time.perf_counter()
    for i in range(quotes):
        eng.clock.advance_to(T0 + (i + 1) * MS)
        eng.on_market_data(quote(f, INSTRUMENT, "5000.00", "5000.25"))
    return len(eng.accounts), (time.perf_counter() - started) / quotes * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quotes", type=int, default=20_000)
    parser.add_argument("--every", type=int, default=10, help="a proposal after every N quotes")
    parser.add_argument("--nats-quotes", type=int, default=5_000, help="quotes for the NATS run (it is slower)")
    args = parser.parse_args()
    configure_logging("exec_sim", "WARNING")  # one JSON line per event would dominate the timing

    events, steps = stream(args.quotes, args.every)
    n = len(events)
    secs, outputs = in_process(events)
    print(
        f"in-process   : {n} inputs ({args.quotes} quotes + {n - args.quotes} proposals) in {secs:.3f}s "
        f"= {n / secs:,.0f} inputs/s ({outputs} outputs)"
    )

    nats_events, _ = stream(args.nats_quotes, args.every)
    secs_nats, publish_s, fills = asyncio.run(over_nats(nats_events))
    m = len(nats_events)
    print(
        f"over NATS    : {m} inputs in {secs_nats:.3f}s = {m / secs_nats:,.0f} inputs/s "
        f"(consume + decide + publish every output with a JetStream ack; {fills} fills; "
        f"pre-publishing the inputs took {publish_s:.2f}s)"
    )

    secs_nt = nautilus(steps)
    if secs_nt is None:
        print("nautilus     : not installed (pip install nautilus_trader) - no reference run")
    else:
        print(
            f"nautilus     : {n} inputs in {secs_nt:.3f}s = {n / secs_nt:,.0f} inputs/s "
            "(BacktestEngine, same quotes and orders, engine build included)"
        )
        print(
            f"ratio        : exec-sim in-process / nautilus = {(n / secs) / (n / secs_nt):.2f}x; "
            f"over NATS / nautilus = {(m / secs_nats) / (n / secs_nt):.3f}x"
        )

    few, few_us = per_quote_us(0)
    many, many_us = per_quote_us(1_000)
    print(
        f"accounts     : {few_us:,.0f} us per quote with {few} accounts, {many_us:,.0f} us with {many} "
        f"(every tenth holding ES) = {many_us / few_us:.1f}x"
    )


if __name__ == "__main__":
    main()
