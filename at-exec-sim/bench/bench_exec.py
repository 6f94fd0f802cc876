"""exec-sim throughput: in-process, over NATS, and nautilus_trader's BacktestEngine as a reference.

Run: ``.venv/bin/python at-exec-sim/bench/bench_exec.py [--quotes 50000,200000] [--every 100] [--repeat 3]``
(from the repository root; ``make bench-exec``). Prints, in one run:

1. at each N of ``--quotes``, like with like: exec-sim in process (market-data events plus
   proposals through risk + venue + portfolio) and nautilus_trader's BacktestEngine on the same
   quotes and orders, each engine's build timed apart from its run (exec-sim's build loads the
   profiles' market calendars, as the service's start does), the run's rate in wall time and in
   CPU time (``time.process_time``: the machine is shared), the best of ``--repeat`` alternating
   runs of each, and the ratio of the two rates from the same run; two Ns show the steady state
   (the figure no longer changes with N);
2. the same stream through the service over a real nats-server (JetStream in, JetStream out,
   every output acknowledged);
3. the cost of a quote as the number of accounts grows (the shipped 5, then 1,000 more, a
   position in every tenth): what a firm with many accounts on one instance pays per tick,
   and per account holding the instrument (the best of ``--repeat`` alternating runs of each);
4. the proposal path: CPU per proposal of ``on_proposal`` and of encoding its outputs and their
   subjects (``bench_proposal.py``; run that alone with ``--base-src`` for a same-run A/B).

Numbers, not assertions: speed targets are never tests.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.helpers and tests.reference_nautilus

from tests.helpers import T0, engine, factory, proposal, quote  # noqa: E402

from at_core.events import Event  # noqa: E402
from at_core.markets.calendars import preload  # noqa: E402
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
from at_exec_sim.domain.sessions import profile_calendars  # noqa: E402

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


@dataclass(frozen=True)
class Timing:
    build_s: float  # wall time to build the engine (and, for nautilus, load its data)
    run_s: float  # wall time of the run alone
    run_cpu_s: float  # CPU time of the run alone (this process)


def built_engine():  # type: ignore[no-untyped-def]
    """The engine as the service builds it: the profiles' market calendars loaded at the start
    (``bootstrap.build`` does it; without it the first quote paid seconds of pandas import and
    schedule building inside the timed run, which made the figure at 50k quotes a third lower)."""
    eng = engine()
    preload(profile_calendars(rt.config.profile for rt in eng.accounts.values()))
    return eng


def in_process(events: list[Event]) -> tuple[Timing, int]:
    t0 = time.perf_counter()
    eng = built_engine()
    build = time.perf_counter() - t0
    outputs = 0
    started, cpu = time.perf_counter(), time.process_time()
    for ev in events:
        eng.clock.advance_to(ev.ts_event)
        out = eng.on_market_data(ev) if ev.event_type == "market_data" else eng.on_proposal(ev)
        outputs += len(out)
    return Timing(build, time.perf_counter() - started, time.process_time() - cpu), outputs


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


def nautilus(steps) -> Timing | None:
    """nautilus's BacktestEngine as ``tests.reference_nautilus.run_reference`` builds it, its build
    (engine, venue, instrument, quotes, strategy) timed apart from ``engine.run()``."""
    try:
        from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
        from nautilus_trader.config import LoggingConfig
        from nautilus_trader.model.currencies import USD
        from nautilus_trader.model.data import QuoteTick
        from nautilus_trader.model.enums import AccountType, OmsType
        from nautilus_trader.model.identifiers import TraderId
        from nautilus_trader.model.objects import Money, Price, Quantity
        from tests.reference_nautilus import START_BALANCE, _Plan, _Replay, es_contract
    except ImportError:
        return None
    t0 = time.perf_counter()
    instrument = es_contract()
    eng = BacktestEngine(
        BacktestEngineConfig(trader_id=TraderId("BENCH-001"), logging=LoggingConfig(bypass_logging=True))
    )
    eng.add_venue(
        venue=instrument.id.venue,
        oms_type=OmsType.NETTING,
        account_type=AccountType.MARGIN,
        base_currency=USD,
        starting_balances=[Money(START_BALANCE, USD)],
        default_leverage=Decimal(1000),
    )
    eng.add_instrument(instrument)
    size, p = Quantity.from_str("100000000"), instrument.price_precision
    eng.add_data(
        [
            QuoteTick(
                instrument_id=instrument.id,
                bid_price=Price(float(bid), p),
                ask_price=Price(float(ask), p),
                bid_size=size,
                ask_size=size,
                ts_event=ts,
                ts_init=ts,
            )
            for ts, bid, ask, _ in steps
        ]
    )
    plan = {i: order for i, (_, _, _, order) in enumerate(steps) if order is not None}
    eng.add_strategy(_Replay(_Plan(instrument_id=instrument.id, orders=plan)))
    build = time.perf_counter() - t0
    started, cpu = time.perf_counter(), time.process_time()
    eng.run()
    timing = Timing(build, time.perf_counter() - started, time.process_time() - cpu)
    eng.dispose()
    return timing


def per_quote_us(extra_accounts: int, quotes: int = 2_000, warm: int = 200) -> tuple[int, float]:
    """Microseconds per quote on ES with the shipped accounts plus ``extra_accounts`` retail ones,
    every tenth of them holding one ES. The quotes move by a tick each (every holder's equity
    changes on each, as in a live market), ``warm`` of them before the clock starts."""
    eng = built_engine()
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
    prices = (("5000.00", "5000.25"), ("5000.25", "5000.50"))
    inputs = []
    for i in range(warm + quotes):
        f.clock.set(T0 + (i + 1) * MS)
        inputs.append(quote(f, INSTRUMENT, *prices[i % 2]))
    for ev in inputs[:warm]:
        eng.clock.advance_to(ev.ts_event)
        eng.on_market_data(ev)
    started = time.process_time()
    for ev in inputs[warm:]:
        eng.clock.advance_to(ev.ts_event)
        eng.on_market_data(ev)
    return len(eng.accounts), (time.process_time() - started) / quotes * 1e6


def _best(timings: list[Timing]) -> Timing:
    return Timing(min(t.build_s for t in timings), min(t.run_s for t in timings), min(t.run_cpu_s for t in timings))


def _rate(n: int, t: Timing) -> str:
    return f"{n / t.run_s:>9,.0f} inputs/s wall, {n / t.run_cpu_s:>9,.0f} per CPU s (build {t.build_s:.2f}s apart)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quotes", default="50000,200000", help="comma-separated Ns: the figure at each")
    parser.add_argument("--every", type=int, default=100, help="a proposal after every N quotes")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each engine at each N: the best is printed")
    parser.add_argument(
        "--nats-quotes", type=int, default=5_000, help="quotes for the NATS run (it is slower; 0: no NATS run)"
    )
    args = parser.parse_args()
    configure_logging("exec_sim", "WARNING")  # one JSON line per event would dominate the timing

    for n_quotes in (int(q) for q in args.quotes.split(",")):
        gc.unfreeze()
        events, steps = stream(n_quotes, args.every)
        n = len(events)
        # the inputs, built before any clock starts, are kept out of the cyclic GC's scans for both
        # engines: live, they arrive one at a time; here N of them are alive at once, and scanning
        # them made exec-sim's rate fall with N (nautilus's quotes are Cython objects, never scanned)
        gc.collect()
        gc.freeze()
        # the two engines alternate, each rebuilt for each run: the best of ``--repeat`` runs of each,
        # since the machine is shared and a neighbour's burst only ever makes a run slower
        runs, refs = [], []
        for _ in range(args.repeat):
            runs.append(in_process(events))
            refs.append(nautilus(steps))
        ours, outputs = _best([t for t, _ in runs]), runs[0][1]
        print(f"N={n_quotes:,} quotes + {n - n_quotes:,} proposals ({outputs:,} outputs), best of {args.repeat}")
        print(f"  exec-sim in-process    : {_rate(n, ours)}")
        if refs[0] is None:
            print("  nautilus               : not installed (pip install nautilus_trader) - no reference run")
            continue
        theirs = _best([t for t in refs if t is not None])
        print(f"  nautilus BacktestEngine: {_rate(n, theirs)}")
        print(
            f"  ratio exec-sim / nautilus: {theirs.run_s / ours.run_s:.2f}x wall, "
            f"{theirs.run_cpu_s / ours.run_cpu_s:.2f}x CPU (runs only, same N, same run)"
        )

    if args.nats_quotes > 0:
        nats_events, _ = stream(args.nats_quotes, args.every)
        secs_nats, publish_s, fills = asyncio.run(over_nats(nats_events))
        m = len(nats_events)
        print(
            f"over NATS    : {m} inputs in {secs_nats:.3f}s = {m / secs_nats:,.0f} inputs/s "
            f"(consume + decide + publish every output with a JetStream ack; {fills} fills; "
            f"pre-publishing the inputs took {publish_s:.2f}s)"
        )

    # the best of ``--repeat`` runs of each, alternating, as above: a neighbour's burst only adds
    few, few_us = per_quote_us(0)
    many, many_us = per_quote_us(1_000)
    for _ in range(args.repeat - 1):
        few_us = min(few_us, per_quote_us(0)[1])
        many_us = min(many_us, per_quote_us(1_000)[1])
    holders = 100  # every tenth of the 1,000 extra accounts; none of the shipped 5 holds ES here
    print(
        f"accounts     : CPU {few_us:,.1f} us per quote with {few} accounts, {many_us:,.1f} us with {many} "
        f"(every tenth holding ES) = {many_us / few_us:.1f}x; "
        f"{(many_us - few_us) / holders:,.2f} us per holder, "
        f"{(many_us - few_us) / (many - few) * 1e3:,.0f} ns per extra account"
    )

    from bench_proposal import proposal_path_us  # section 4: the same figure bench_proposal.py prints

    decide_us, encode_us, per = min((proposal_path_us(10_000) for _ in range(args.repeat)), key=lambda r: r[0] + r[1])
    print(
        f"proposal path: CPU {decide_us:,.1f} us on_proposal + {encode_us:,.1f} us encode+subject of its "
        f"{per:.1f} outputs = {decide_us + encode_us:,.1f} us per proposal (10,000 proposals, best of {args.repeat})"
    )


if __name__ == "__main__":
    main()
