"""The recorder's CPU per event and its catch-up rate (``make bench-recorder``).

Starts a real nats-server, provisions the recorder's durables, and runs the real ``at-recorder``
(SQLite store, console on, as in the stack) in a process of its own. Then, measured from
``/proc`` (user + system CPU of that process):

* idle: the recorder's CPU floor over a few seconds (subtracted from the steps below);
* paced: ``--alerts-per-s`` alerts of ten events each (signal to account state, every event
  published with its JetStream ack awaited, an alert's events back to back), as the stack
  produces them: small fetched batches, where per-transaction costs dominate;
* backlog: ``--backlog`` events published while the recorder's consumers are away, then the
  time and CPU it takes to catch up (big batches).

``--store-path`` measures the recorder's own store path alone, in this process, with no NATS:
``Recorder.record_many`` fed one alert's events as three consumers would fetch them (the
signal, then 2 ms later the analysis and proposal, then 2 ms later the seven execution events),
each consumer awaiting its batch like the bus does. The batches are the same in every run, so
the figure does not move with the machine's load the way the fetch sizes of the full run do.

Each step ends when the store's head reaches the events published (read from the SQLite file,
not over HTTP, so the bench adds no work to the recorder). Prints CPU ms per 1,000 events and
events/s; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import httpx

from at_core.clock import ManualClock
from at_core.constants import SERVICE_OBS
from at_core.durables import DURABLES
from at_core.events import Event
from at_core.ids import IdGenerator
from at_core.metrics import MetricCatalog
from at_core.models.enums import OrderSide, PositionSide
from at_core.runtime.bus import EventBus
from at_core.runtime.logging import configure_logging
from at_core.runtime.provision import provision_url
from at_core.testing import NatsServer, free_port
from at_core.testing.examples import example_events

#: One alert's story, as the stack records it.
CHAIN = [
    "signal", "agent_analysis", "trade_proposal", "risk_decision", "order_submitted", "order_accepted",
    "fill", "order_filled", "position", "account_state",
]  # fmt: skip
ACCOUNTS = [f"acct-{i}" for i in range(5)]
IDLE_S = 3.0


class Events:
    """Realistic events, linked by correlation and causation, with fresh ids."""

    def __init__(self) -> None:
        self.examples = example_events()
        self.clock = ManualClock(1_795_000_000_000_000_000)
        self.ids = IdGenerator(self.clock, random.Random(0))
        self.k = 0

    def alert(self) -> list[Event]:
        k, self.k = self.k, self.k + 1
        account = ACCOUNTS[k % len(ACCOUNTS)]
        opening = (k // len(ACCOUNTS)) % 2 == 0
        correlation = self.ids.new()
        out: list[Event] = []
        cause: str | None = None
        for kind in CHAIN:
            self.clock.advance(2_000_000)
            event_id = self.ids.new()
            base = self.examples[kind]
            update: dict[str, object] = {
                "event_id": event_id,
                "correlation_id": correlation,
                "causation_id": cause,
                "ts_event": self.clock.now_ns(),
                "ts_init": self.clock.now_ns(),
            }
            if "account_id" in type(base).model_fields:
                update["account_id"] = account
            if kind == "fill":
                update["side"] = OrderSide.BUY if opening else OrderSide.SELL
                update["price"] = Decimal(6000 + (k % 40))
            if kind == "position":
                update["position"] = base.position.model_copy(  # type: ignore[attr-defined]
                    update={"account_id": account, "side": PositionSide.LONG if opening else PositionSide.FLAT}
                )
            out.append(base.model_copy(update=update))
            cause = event_id
        return out


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def head_seq(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        return int(conn.execute("SELECT seq FROM audit_head WHERE id = 1").fetchone()[0])


async def wait_head(db: Path, target: int, timeout: float = 300.0) -> float:
    started = time.monotonic()
    while head_seq(db) < target:
        if os.environ.get("BENCH_TRACE"):
            print(f"{time.monotonic() - started:6.3f} {head_seq(db)}")
        if time.monotonic() - started > timeout:
            raise SystemExit(f"the recorder did not reach seq {target} (at {head_seq(db)})")
        await asyncio.sleep(0.005)
    return time.monotonic()


def start_recorder(nats_url: str, port: int, db: Path, env_extra: dict[str, str]) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "AT_OBS_NATS_URL": nats_url,
        "AT_OBS_PORT": str(port),
        "AT_OBS_AUDIT_DB_PATH": str(db),
        "AT_OBS_LOG_LEVEL": "WARNING",
        "AT_OBS_CONSOLE_HEALTH_URLS": "{}",
        **env_extra,
    }
    binary = Path(sys.executable).parent / "at-recorder"
    return subprocess.Popen([str(binary)], env=env, stdout=subprocess.DEVNULL)


async def wait_ready(port: int) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        for _ in range(600):
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("the recorder never became ready")


def profile(pid: int, out: str) -> subprocess.Popen[bytes]:
    """py-spy sampling the recorder through the paced step (collapsed stacks at ``out``)."""
    spy = Path(sys.executable).parent / "py-spy"
    cmd = [str(spy), "record", "--pid", str(pid), "--format", "raw", "--rate", "250", "--gil", "--output", out]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def transactions(port: int) -> int:
    """How many appends (transactions) the recorder has made: its ``audit_append_seconds`` count."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        text = (await client.get("/metrics")).text
    line = next(x for x in text.splitlines() if x.startswith("at_obs_audit_append_seconds_count"))
    return int(float(line.split()[-1]))


def row(name: str, events: int, cpu: float, wall: float, commits: int) -> None:
    print(
        f"{name:<8} {events:>7,} events  {cpu * 1e6 / events:>6.1f} ms CPU / 1,000 events  "
        f"{events / wall:>6,.0f} events/s  {events / commits:>5.1f} events per transaction"
    )


async def bench(args: argparse.Namespace) -> None:
    env_extra = dict(kv.split("=", 1) for kv in args.env)
    work = Path(tempfile.mkdtemp(prefix="bench-recorder-"))
    db = work / "audit.sqlite3"
    events = Events()
    with NatsServer() as nats_server:
        await provision_url(nats_server.url, durables=[d for d in DURABLES if d.service == SERVICE_OBS])
        bus = await EventBus.connect(nats_server.url, service="bench", metrics=MetricCatalog("bench").build())
        port = free_port()
        proc = start_recorder(nats_server.url, port, db, env_extra)
        try:
            await wait_ready(port)
            await asyncio.sleep(1.0)  # startup work (the console's first read) out of the idle figure
            c0, t0 = cpu_s(proc.pid), time.monotonic()
            await asyncio.sleep(IDLE_S)
            idle_rate = (cpu_s(proc.pid) - c0) / (time.monotonic() - t0)
            print(f"idle     {idle_rate * 1000:.1f} ms CPU per second (subtracted below)")

            spy = profile(proc.pid, args.profile) if args.profile else None
            total = 0
            n_alerts = int(args.alerts_per_s * args.seconds)
            n0 = await transactions(port)
            c0, t0 = cpu_s(proc.pid), time.monotonic()
            for i in range(n_alerts):
                for event in events.alert():
                    await bus.publish(event)
                total += len(CHAIN)
                delay = t0 + (i + 1) / args.alerts_per_s - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            t1 = await wait_head(db, total)
            wall = t1 - t0
            cpu = cpu_s(proc.pid) - c0 - idle_rate * wall
            n1 = await transactions(port)
            row("paced", n_alerts * len(CHAIN), cpu, wall, n1 - n0)
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=60)

            proc.send_signal(signal.SIGSTOP)  # the consumers away: a backlog builds in JetStream
            backlog = [e for _ in range(args.backlog // len(CHAIN)) for e in events.alert()]
            for start in range(0, len(backlog), 500):
                await bus.publish_many(backlog[start : start + 500])
            total += len(backlog)
            c0 = cpu_s(proc.pid)
            proc.send_signal(signal.SIGCONT)
            # Timed from the first record: the fetches that expired while stopped take up to
            # their timeout (1 s) to be sent again, which is no measure of the recorder's speed.
            t0 = await wait_head(db, total - len(backlog) + 1)
            t1 = await wait_head(db, total)
            wall = t1 - t0
            cpu = cpu_s(proc.pid) - c0 - idle_rate * wall
            row("backlog", len(backlog), cpu, wall, await transactions(port) - n1)
        finally:
            proc.send_signal(signal.SIGCONT)
            proc.terminate()
            proc.wait(timeout=30)
            await bus.close()
    print(f"store: {db}")


async def store_path(args: argparse.Namespace) -> None:
    """``Recorder.record_many`` at ``--alerts-per-s``, the batches shaped as the stack fetches them."""
    from at_core.metrics.obs import CATALOG
    from at_core.runtime.bus import Delivery
    from at_obs.adapters.audit_store import open_audit_store
    from at_obs.config import ObsSettings
    from at_obs.service import Recorder

    settings = ObsSettings(audit_db_path=str(Path(tempfile.mkdtemp(prefix="bench-recorder-")) / "audit.sqlite3"))
    store = open_audit_store(settings.audit_location)
    rec = Recorder(settings, store, CATALOG.build())
    events = Events()
    n_alerts = int(args.alerts_per_s * args.seconds)
    alerts = [events.alert() for _ in range(n_alerts)]

    def batch(part: list[Event]) -> list[tuple[Event, Delivery]]:
        return [(e, Delivery(f"at.bench.{e.event_type}", "BENCH", 1, 1, {})) for e in part]

    c0, t0 = time.process_time(), time.monotonic()
    for i, alert in enumerate(alerts):

        async def after(delay: float, part: list[Event]) -> None:
            await asyncio.sleep(delay)
            await rec.record_many(batch(part))

        await asyncio.gather(after(0, alert[:1]), after(0.002, alert[1:3]), after(0.004, alert[3:]))
        delay = t0 + (i + 1) / args.alerts_per_s - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    cpu = time.process_time() - c0
    assert store.count() == n_alerts * len(CHAIN)
    writer = getattr(rec, "writer", None)
    if writer is not None:
        writer.stop()
    store.close()
    count = n_alerts * len(CHAIN)
    commits = rec.metrics.histogram("audit_append_seconds").collect()[0]
    n = next(int(x.value) for x in commits.samples if x.name.endswith("_count"))
    print(
        f"store path {count:>7,} events  {cpu * 1e6 / count:>6.1f} ms CPU / 1,000 events  "
        f"{count / n:>5.1f} events per transaction (this process, no NATS)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts-per-s", type=float, default=50.0, help="paced step: alerts (10 events) per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="paced step: how long")
    parser.add_argument("--backlog", type=int, default=10_000, help="backlog step: events")
    parser.add_argument("--store-path", action="store_true", help="the recorder's store path alone, no NATS")
    parser.add_argument("--profile", help="py-spy the paced step into this file (collapsed stacks)")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the recorder (a setting to compare)")
    configure_logging("bench", "WARNING")  # one line per publish would be the bench's own CPU
    args = parser.parse_args()
    asyncio.run(store_path(args) if args.store_path else bench(args))


if __name__ == "__main__":
    main()
