"""`make bench-e2e`: webhook-to-FillEvent latency at a fixed rate, and the highest sustained rate.

Starts the whole stack (free ports, embedded NATS), primes prices, then posts TradingView
alerts that alternate "buy 1" / "sell 1" on the paper account (each one trade), and times each from the
moment the request's bytes are written to the FillEvent seen on the bus (a keep-alive client of
its own, ``tools/bench_http.py``: httpx's own CPU per request would count as the system's).
Baselines measured in the same run: a NATS round trip within this process and one through
another process (the floor of a bus hop between services: both ends woken), a message through
JetStream into a pull consumer waiting in another process (the hop the stack's events make), and a
gateway GET /healthz (the floor of the HTTP hop). Prints tables; asserts nothing (targets live here, not in tests).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import nats
from nats.js.api import StorageType
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from at_core import subjects
from at_core.serialization import decode_event
from at_core.service_kit import Scope, dev_headers
from tools import stack as stack_mod
from tools.bench_http import KeepAliveClient
from tools.demo import QUOTES, stack_env
from tools.proc_cpu import cpu_seconds, process_groups

ROOT = Path(__file__).resolve().parents[1]
console = Console(highlight=False)
SECRET = "bench-secret"


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


#: Seconds the stack is measured idle before the fixed-rate step (its CPU floor).
IDLE_S = 3.0

#: The steps of one alert's story the bench times, in order, by the event that ends each.
STEPS = ("signal", "trade_proposal", "risk_decision", "fill")


class FillClock:
    """When each step's first event arrived per correlation id, and what became of the others."""

    def __init__(self) -> None:
        self.seen: dict[str, dict[str, float]] = {step: {} for step in STEPS}
        self.arrived = self.seen["fill"]
        self.proposed = self.seen["trade_proposal"]
        self.denied: dict[str, str] = {}

    async def on_msg(self, msg) -> None:
        """Time of arrival by the event's headers; only a risk decision is decoded (for its verdict)."""
        now = time.perf_counter()
        headers = msg.headers or {}
        event_type, correlation = headers.get(subjects.HEADER_EVENT_TYPE), headers.get(subjects.HEADER_CORRELATION_ID)
        step = self.seen.get(event_type) if event_type else None
        if step is not None and correlation:
            step.setdefault(correlation, now)
        if event_type == "risk_decision":
            event = decode_event(msg.data)
            if not event.approved:
                self.denied[event.correlation_id] = ",".join(r.code for r in event.reasons) or "denied"

    def hops(self, sent: dict[str, float]) -> list[tuple[str, list[float]]]:
        """Milliseconds spent in each step (webhook posted -> signal on the bus -> ... -> fill)."""
        out = []
        before = "webhook"
        for step in STEPS:
            spans = []
            for c, t0 in sent.items():
                start = t0 if before == "webhook" else self.seen[before].get(c)
                end = self.seen[step].get(c)
                if start is not None and end is not None:
                    spans.append((end - start) * 1000)
            out.append((f"{before} -> {step}", spans))
            before = step
        return out

    def unfilled(self, correlations: list[str]) -> dict[str, int]:
        """Why alerts have no fill: denied (by reason), no proposal, or still in flight."""
        why: Counter[str] = Counter()
        for c in correlations:
            if c in self.arrived:
                continue
            if c in self.denied:
                why[f"denied {self.denied[c]}"] += 1
            elif c not in self.proposed:
                why["no proposal"] += 1
            else:
                why["proposed, no fill yet"] += 1
        return dict(why)


def alert(i: int) -> dict:
    long = i % 2 == 0
    return {
        "ticker": "MES1!",
        "exchange": "CME_MINI",
        "close": "6012.25",
        "interval": "1",
        # buy 1 / sell 1 without target-position fields: every alert is one trade, whatever
        # position the agents last saw (a "be long 1" seen before the previous fill is a no-op)
        "strategy": {"order": {"action": "buy" if long else "sell", "contracts": "1", "id": f"b{i}"}},
        "alert_id": f"bench-{time.time_ns()}-{i}",
    }


async def drive(http: KeepAliveClient, clock: FillClock, rate: float, seconds: float, drain_s: float = 10.0) -> dict:
    """Post ``rate`` alerts/s for ``seconds``; return latencies and how many filled."""
    sent: dict[str, float] = {}
    errors = 0
    statuses: Counter[int] = Counter()
    interval = 1.0 / rate
    start = time.perf_counter()
    tasks = []

    async def post(i: int) -> None:
        nonlocal errors
        answer = await http.post(f"/webhooks/tradingview/{SECRET}", json.dumps(alert(i)).encode())
        statuses[answer.status] += 1
        if answer.status == 202:
            sent[json.loads(answer.body)["correlation_id"]] = answer.sent_at
        else:
            errors += 1

    n = int(rate * seconds)
    for i in range(n):
        target = start + i * interval
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(post(i)))
    await asyncio.gather(*tasks)
    deadline = time.perf_counter() + drain_s
    while time.perf_counter() < deadline and not all(c in clock.arrived for c in sent):
        await asyncio.sleep(0.05)
    lat = [(clock.arrived[c] - t0) * 1000 for c, t0 in sent.items() if c in clock.arrived]
    return {
        "rate": rate,
        "sent": n,
        "accepted": len(sent),
        "filled": len(lat),
        "errors": errors,
        "statuses": dict(statuses),
        "p50": pct(lat, 0.5),
        "p99": pct(lat, 0.99),
        "lat": lat,
        "elapsed": time.perf_counter() - start,
        "unfilled": clock.unfilled(list(sent)),
        "hops": clock.hops(sent),
    }


#: Answers every request on ``bench.echo`` from another process: the floor of a hop between two
#: services is a message into a process that was waiting, not one within an awake process.
ECHO = """
import asyncio, sys, nats
async def main():
    nc = await nats.connect(sys.argv[1], user="admin", password=sys.argv[2])
    async def echo(msg):
        await nc.publish(msg.reply, msg.data)
    await nc.subscribe("bench.echo", cb=echo)
    await nc.flush()
    print("ready", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""

#: Takes every message of a JetStream stream through a pull consumer (a fetch always waiting, as a
#: service's consumer does) and answers with the moment it had it (CLOCK_MONOTONIC, shared by the
#: processes of one machine): the floor of a hop through JetStream into a waiting service.
JS_ECHO = """
import asyncio, sys, time, nats
async def main():
    nc = await nats.connect(sys.argv[1], user="admin", password=sys.argv[2])
    sub = await nc.jetstream().pull_subscribe("bench.hop.in", durable="bench-hop", stream="BENCH_HOP")
    print("ready", flush=True)
    while True:
        try:
            msgs = await sub.fetch(1, timeout=5)
        except nats.errors.TimeoutError:
            continue
        for msg in msgs:
            await nc.publish("bench.hop.out", str(time.perf_counter()).encode())
            await msg.ack()
asyncio.run(main())
"""


@contextlib.asynccontextmanager
async def helper_process(code: str, stk: stack_mod.Stack) -> AsyncIterator[None]:
    """``code`` (ECHO or JS_ECHO) in its own Python process, connected and ready, killed on exit."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stk.nats_url, stk.admin_password, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None and (await proc.stdout.readline()).strip() == b"ready"
        yield
    finally:
        proc.kill()
        await proc.wait()


async def jetstream_hop(nc: nats.NATS, stk: stack_mod.Stack, n: int, gap_s: float) -> list[float]:
    """One-way ms from publishing into a stream to a waiting pull consumer in another process having it."""
    js = nc.jetstream()
    await js.add_stream(name="BENCH_HOP", subjects=["bench.hop.in"], storage=StorageType.FILE)
    out = await nc.subscribe("bench.hop.out")
    hops: list[float] = []
    try:
        async with helper_process(JS_ECHO, stk):
            for _ in range(n):
                await asyncio.sleep(gap_s)
                t0 = time.perf_counter()
                await nc.publish("bench.hop.in", b"x" * 600)
                had = float((await out.next_msg(timeout=5)).data)
                hops.append((had - t0) * 1000)
    finally:
        await out.unsubscribe()
        await js.delete_stream("BENCH_HOP")
    return hops[5:]  # the consumer's first fetches are its warm-up


async def baselines(stk: stack_mod.Stack, http: KeepAliveClient, n: int = 500, gap_s: float = 0.02) -> dict:
    """Same-run floors: NATS within this process, NATS and JetStream through another process
    (``gap_s`` apart, as alerts are at 50/s, so the other side is idle when each arrives), and GET /healthz."""
    nc = await nats.connect(stk.nats_url, user="admin", password=stk.admin_password)
    sub = await nc.subscribe("bench.rtt")
    rtt = []
    for _ in range(n):
        t0 = time.perf_counter()
        await nc.publish("bench.rtt", b"x")
        await sub.next_msg(timeout=2)
        rtt.append((time.perf_counter() - t0) * 1000)
    across = []
    async with helper_process(ECHO, stk):
        for _ in range(n // 2):
            await asyncio.sleep(gap_s)
            t0 = time.perf_counter()
            await nc.request("bench.echo", b"x" * 600, timeout=2)
            across.append((time.perf_counter() - t0) * 1000 / 2)  # there and back: two hops
    js_hop = await jetstream_hop(nc, stk, n // 2, gap_s)
    await nc.close()
    health = []
    for _ in range(n):
        answer = await http.get("/healthz")
        health.append((time.perf_counter() - answer.sent_at) * 1000)
    return {
        "nats": (pct(rtt, 0.5), pct(rtt, 0.99)),
        "across": (pct(across, 0.5), pct(across, 0.99)),
        "jetstream": (pct(js_hop, 0.5), pct(js_hop, 0.99), len(js_hop)),
        "http": (pct(health, 0.5), pct(health, 0.99)),
    }


async def bench(stk: stack_mod.Stack, rate: float, seconds: float, ramp: list[float]) -> None:
    clock = FillClock()
    nc = await nats.connect(stk.nats_url, user="admin", password=stk.admin_password)
    for subject in (subjects.SIGNALS, subjects.FILLS, subjects.TRADE_PROPOSALS, subjects.RISK_DECISIONS):
        await nc.subscribe(subject, cb=clock.on_msg, pending_msgs_limit=1_000_000)
    http = KeepAliveClient("127.0.0.1", stk.ports["gateway"])
    async with httpx.AsyncClient(base_url=stk.url("gateway"), timeout=30) as setup:  # priming, /connz
        await setup.post("/ingest/market-data", json={"items": QUOTES}, headers=dev_headers(Scope.TRADER))
        try:
            await measure(stk, http, setup, clock, rate, seconds, ramp)
        finally:
            await http.close()
            await nc.close()


async def measure(
    stk: stack_mod.Stack,
    http: KeepAliveClient,
    setup: httpx.AsyncClient,
    clock: FillClock,
    rate: float,
    seconds: float,
    ramp: list[float],
) -> None:
    base = await baselines(stk, http)
    await drive(http, clock, 20, 1.0)  # warm-up
    # The ramp first, on an idle stack (a backlog left by an overloaded step would fail the next).
    ramp_table = Table(title="sustained rate: every accepted alert filled within 10 s of the step's end")
    for col in ("alerts/s", "sent", "filled", "p50 ms", "p99 ms", "sustained", "not filled"):
        ramp_table.add_column(col)
    best = 0.0
    for r in ramp:
        res = await drive(http, clock, r, 5.0)
        ok = res["filled"] == res["sent"] and res["errors"] == 0 and res["elapsed"] < 5.0 * 1.2
        best = r if ok else best
        ramp_table.add_row(
            f"{r:.0f}",
            str(res["sent"]),
            str(res["filled"]),
            f"{res['p50']:.1f}",
            f"{res['p99']:.1f}",
            "yes" if ok else "no",
            ", ".join(f"{k}: {v}" for k, v in res["unfilled"].items()) or "-",
        )
        if not ok:
            await drive(http, clock, 1, 1.0, drain_s=120)  # let the backlog drain before the fixed step
            break
    console.print(ramp_table)
    assert stk.processes is not None
    groups = process_groups(stk.processes.pids())
    idle0, idle_wall0 = cpu_seconds(groups), time.monotonic()
    await asyncio.sleep(IDLE_S)  # what the stack burns with no alert (fetch loops, heartbeats)
    idle1, idle_wall = cpu_seconds(groups), time.monotonic() - idle_wall0
    msgs0 = await nats_messages(setup, stk)
    cpu0, wall0 = cpu_seconds(groups), time.monotonic()
    fixed = await drive(http, clock, rate, seconds, drain_s=120)  # late fills count, with their latency
    cpu1, wall = cpu_seconds(groups), time.monotonic() - wall0
    msgs1 = await nats_messages(setup, stk)
    table = Table(title=f"webhook -> FillEvent at {rate:.0f} alerts/s for {seconds:.0f}s (same-run baselines)")
    for col in ("path", "p50 ms", "p99 ms", "n"):
        table.add_column(col)
    table.add_row("NATS publish -> receive, one process", f"{base['nats'][0]:.2f}", f"{base['nats'][1]:.2f}", "500")
    table.add_row(
        "NATS hop into another process (floor of a bus hop)",
        f"{base['across'][0]:.2f}",
        f"{base['across'][1]:.2f}",
        "250",
    )
    table.add_row(
        "JetStream hop into a waiting pull consumer in another process",
        f"{base['jetstream'][0]:.2f}",
        f"{base['jetstream'][1]:.2f}",
        str(base["jetstream"][2]),
    )
    table.add_row("gateway GET /healthz (HTTP floor)", f"{base['http'][0]:.2f}", f"{base['http'][1]:.2f}", "500")
    table.add_row(
        "alert -> fill (whole stack)",
        f"{fixed['p50']:.2f}",
        f"{fixed['p99']:.2f}",
        f"{fixed['filled']}/{fixed['sent']} filled, {fixed['errors']} errors {fixed['statuses']}",
    )
    console.print(table)
    hops = Table(title=f"where an alert's time goes at {rate:.0f} alerts/s (first event of each step seen on the bus)")
    for col in ("step", "p50 ms", "p99 ms", "n"):
        hops.add_column(col)
    for name, spans in fixed["hops"]:
        hops.add_row(name, f"{pct(spans, 0.5):.2f}", f"{pct(spans, 0.99):.2f}", str(len(spans)))
    console.print(hops)
    cpu = Table(title=f"CPU per alert at {rate:.0f} alerts/s (ms of CPU per filled alert; cores busy over the step)")
    for col in ("process", "CPU ms / alert", "cores", "cores idle", "CPU ms / alert less idle"):
        cpu.add_column(col)
    per = max(fixed["filled"], 1)

    def row(name: str, used: float, idle: float) -> None:
        idle_cores = idle / idle_wall
        net = max(0.0, used - idle_cores * wall)
        cpu.add_row(
            name, f"{used * 1000 / per:.2f}", f"{used / wall:.2f}", f"{idle_cores:.2f}", f"{net * 1000 / per:.2f}"
        )

    for name in groups:
        row(name, cpu1[name] - cpu0[name], idle1[name] - idle0[name])
    row("all", sum(cpu1[k] - cpu0[k] for k in groups), sum(idle1[k] - idle0[k] for k in groups))
    console.print(cpu)
    console.print(messages_table(msgs0, msgs1, per, rate))
    if fixed["unfilled"]:
        console.print(f"not filled at {rate:.0f}/s: {fixed['unfilled']}")
    floor = base["http"][0] / 2 + 3 * base["across"][0]
    js_floor = base["http"][0] / 2 + 2 * base["jetstream"][0] + base["across"][0]
    console.print(
        f"floor of one alert's path (half the HTTP round trip + 3 bus hops into another process, "
        f"no work done): {floor:.2f} ms core NATS, {js_floor:.2f} ms with the two hops the stack makes "
        f"through JetStream as it does (the signal into agents, the proposal into exec-sim); the whole stack's p50 "
        f"is {fixed['p50'] / floor:.1f}x / {fixed['p50'] / js_floor:.1f}x those"
    )
    console.print(
        f"highest sustained rate: {best:.0f} alerts/s (targets: p50 <= 5 ms at 50 alerts/s; >= 150/s sustained)"
    )


async def nats_messages(http: httpx.AsyncClient, stk: stack_mod.Stack) -> dict[str, tuple[int, int]]:
    """Messages each client connection has sent to and received from nats-server so far, by
    connection name (the server's /connz; every publish, ack, pull request and delivery counts)."""
    resp = await http.get(f"http://127.0.0.1:{stk.monitor_port}/connz", params={"limit": 1024})
    out: dict[str, tuple[int, int]] = {}
    for conn in resp.json().get("connections", []):
        name = conn.get("name") or conn.get("authorized_user") or "unnamed"
        sent, received = out.get(name, (0, 0))
        out[name] = (sent + conn.get("in_msgs", 0), received + conn.get("out_msgs", 0))
    return out


def messages_table(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]], per: int, rate: float
) -> Table:
    """NATS messages per filled alert, by connection: the work nats-server does for each alert."""
    table = Table(title=f"NATS messages per alert at {rate:.0f} alerts/s (by client connection, from /connz)")
    for col in ("connection", "sent / alert", "received / alert"):
        table.add_column(col)
    total_in = total_out = 0
    for name in sorted(after):
        sent = after[name][0] - before.get(name, (0, 0))[0]
        received = after[name][1] - before.get(name, (0, 0))[1]
        if sent or received:
            total_in, total_out = total_in + sent, total_out + received
            table.add_row(name, f"{sent / per:.1f}", f"{received / per:.1f}")
    table.add_row("all", f"{total_in / per:.1f}", f"{total_out / per:.1f}")
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--ramp", default="20,40,60,100,150,200,400")
    args = parser.parse_args()
    run_dir = ROOT / "var" / f"bench-{int(time.time())}"
    run_dir.mkdir(parents=True, exist_ok=True)
    routes = run_dir / "routes.json"
    routes.write_text(
        json.dumps({"routes": [{"secret": SECRET, "targets": [{"account_id": "paper-1", "strategy_id": "bench"}]}]})
    )
    env = stack_env(run_dir, routes) | bench_env()
    stk = stack_mod.new_stack(run_dir, pick_free_ports=True, extra_env=env)
    with stack_mod.running(stk):
        asyncio.run(bench(stk, args.rate, args.seconds, [float(x) for x in args.ramp.split(",")]))
    return 0


def bench_env() -> dict[str, str]:
    """Lift the per-route/per-address rate limits (they protect production, not a benchmark)."""
    lifted = str(10_000_000)
    return {"AT_GATEWAY_RATE_LIMIT_PER_MINUTE": lifted, "AT_GATEWAY_ROUTE_RATE_LIMIT_PER_MINUTE": lifted}


if __name__ == "__main__":
    sys.exit(main())
