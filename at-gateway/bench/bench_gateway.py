"""`make bench-gateway`: the full webhook path against two baselines, in the same run.

Starts a real nats-server and, each in its own process:
  * ``body-only``: a minimal FastAPI app whose only route reads the body and answers 202;
  * ``minimal JetStream``: a minimal FastAPI app that validates the body with one Pydantic model
    and publishes it with one JetStream-acknowledged publish (the floor of "durable on NATS");
  * ``gateway``: the real gateway (auth, validation, de-duplication, JetStream-acknowledged
    publish, metrics, JSON logs to a file) on a fresh outbox, one uvicorn worker; with
    ``--granian`` also under granian, with ``--workers N`` also N processes.
Then drives each on loopback with ``--connections`` keep-alive connections for ``--seconds``
(wrk when installed, its Lua script giving every alert its own ``alert_id``, else the asyncio
HTTP/1.1 client below), and prints requests/s, p50/p99 latency and the server process's own CPU
per request (user + system, from /proc: less sensitive to the shared machine's load than
requests/s), each gateway figure next to its same-run minimal-JetStream baseline and the ratio. Then prints the redaction cost per KB of
1 MiB bodies, ordinary and hostile. Asserts nothing: targets live here, never in tests.

    .venv/bin/python at-gateway/bench/bench_gateway.py [--seconds 10] [--connections 32]
        [--client wrk|asyncio] [--granian] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from at_core.testing import NatsServer, free_port

SECRET = "bench-webhook-secret"  # noqa: S105 - a throwaway secret for a local run
_COUNTER = itertools.count()  # shared by warm-up and measured runs: no alert is a duplicate
PATH = f"/webhooks/tradingview/{SECRET}"


def _alert(i: int, now: str) -> bytes:
    return json.dumps(
        {
            "ticker": "MES1!",
            "exchange": "CME_MINI",
            "interval": "5",
            "close": "6012.25",
            "time": now,
            "alert_id": f"bench-{os.getpid()}-{i}",
            "strategy": {
                "order": {"action": "buy", "contracts": "1", "price": "6012.25", "comment": "bench"},
                "position_size": "1",
                "market_position": "long",
                "prev_market_position": "flat",
            },
        }
    ).encode()


def redaction_cost() -> list[tuple[str, int, float]]:
    """Redaction of 1 MiB bodies (what every refused or accepted body goes through): microseconds per KB.

    The shapes are the hostile ones that made the old patterns quadratic, next to an ordinary body.
    """
    from at_gateway.domain.redaction import Redactor

    redactor = Redactor([SECRET, "dev-api-key"])
    mib = 1024 * 1024
    ordinary = (b'{"items": [' + b'{"kind": "quote", "symbol": "MES1!", "bid": "6012", "ask": "6012.25"},' * 15000)[
        :mib
    ]
    bodies = {
        "ordinary JSON": ordinary,
        "newlines": b"\n" * mib,
        "spaces after a secret name": b"passphrase" + b" " * mib,
        "passphrase= lines": (b"passphrase=x\n" * (mib // 13))[:mib],
        "escaped quotes": (b'"\\"' * (mib // 3))[:mib],
        "percent signs": b"%" * mib,
    }
    out = []
    for name, body in bodies.items():
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            redactor.body(body)
            best = min(best, time.perf_counter() - t0)
        out.append((name, len(body), best))
    return out


def ceiling_app():
    """The body-only endpoint: read the body, answer 202."""
    app = FastAPI()

    @app.post("/webhooks/tradingview/{token}")
    async def read_only(token: str, request: Request) -> JSONResponse:
        body = await request.body()
        return JSONResponse({"status": "accepted", "bytes": len(body)}, status_code=202)

    return app


def minimal_jetstream_app(nats_url: str):
    """The minimal durable endpoint: one Pydantic model, one JetStream-acknowledged publish."""
    import uuid

    import nats
    from nats.js.api import StreamConfig
    from pydantic import BaseModel

    class Order(BaseModel):
        action: str
        contracts: str
        price: str | None = None
        comment: str | None = None

    class Strategy(BaseModel):
        order: Order
        position_size: str | None = None
        market_position: str | None = None
        prev_market_position: str | None = None

    class Alert(BaseModel):
        ticker: str
        exchange: str | None = None
        interval: str | None = None
        close: str | None = None
        time: str | None = None
        alert_id: str | None = None
        strategy: Strategy

    class Signal(BaseModel):
        event_id: str
        alert: Alert

    state: dict = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        with contextlib.suppress(Exception):
            await js.add_stream(StreamConfig(name="BENCH_MIN", subjects=["bench.min.>"]))
        state["js"] = js
        yield
        await nc.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/webhooks/tradingview/{token}")
    async def durable(token: str, request: Request) -> JSONResponse:
        alert = Alert.model_validate_json(await request.body())
        signal = Signal(event_id=uuid.uuid4().hex, alert=alert)
        ack = await state["js"].publish(
            "bench.min.signal", signal.model_dump_json().encode(), timeout=1.0, headers={"Nats-Msg-Id": signal.event_id}
        )
        return JSONResponse({"status": "accepted", "event_id": signal.event_id, "seq": ack.seq}, status_code=202)

    @app.get("/readyz")
    async def ready() -> JSONResponse:
        return JSONResponse({"ready": "js" in state}, status_code=200 if "js" in state else 503)

    return app


def _serve_minimal_jetstream(port: int, nats_url: str) -> None:
    uvicorn.run(minimal_jetstream_app(nats_url), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _serve_gateway_profiled(out: str) -> None:
    import cProfile
    import signal

    from at_gateway.main import serve

    prof = cProfile.Profile()

    def dump(*_: object) -> None:
        prof.disable()
        prof.dump_stats(out)
        os._exit(0)

    signal.signal(signal.SIGTERM, dump)  # uvicorn restores and re-raises it after its shutdown
    prof.enable()
    serve()
    dump()


def _serve_ceiling(port: int) -> None:
    uvicorn.run(ceiling_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False)


# wrk: every request its own alert_id (thread id and a counter), the report as one JSON line.
WRK_SCRIPT = r"""
local template = [[TEMPLATE]]
local n = 0
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  prefix = args[1] .. "-" .. tid .. "-"
end
function request()
  n = n + 1
  local body = string.gsub(template, "ALERT_ID", prefix .. n)
  return wrk.format("POST", "PATH", {["Content-Type"] = "application/json"}, body)
end
function done(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "non2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), non2xx,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def _wrk_script(workdir: Path) -> Path:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    template = _alert(0, now).decode().replace(f"bench-{os.getpid()}-0", "ALERT_ID")
    path = workdir / "alerts.lua"
    path.write_text(WRK_SCRIPT.replace("TEMPLATE", template).replace("PATH", PATH))
    return path


_RUN = itertools.count()


def _drive_wrk(port: int, seconds: float, connections: int, script: Path) -> dict:
    """wrk with two threads; ``statuses`` counts 2xx and the rest (wrk does not tell them apart)."""
    prefix = f"wrk{os.getpid()}x{next(_RUN)}"
    out = subprocess.run(
        [
            shutil.which("wrk") or "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "5s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
            "--",
            prefix,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("WRK_JSON "))
    r = json.loads(line.removeprefix("WRK_JSON "))
    return {
        "requests": r["requests"],
        "rps": r["requests"] / (r["duration_us"] / 1e6),
        "p50_ms": r["p50_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
        "statuses": {"2xx": r["requests"] - r["non2xx"], "other": r["non2xx"], "socket_errors": r["socket_errors"]},
    }


class _Conn:
    """One keep-alive HTTP/1.1 connection: POST, read the status line, headers and body."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def post(self, path: str, body: bytes) -> int:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(status_line.split()[1])


async def _drive(port: int, seconds: float, connections: int) -> dict[str, float]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        conn = _Conn(*await asyncio.open_connection("127.0.0.1", port))
        try:
            while time.perf_counter() < deadline:
                body = _alert(next(_COUNTER), now)
                t0 = time.perf_counter()
                status = await conn.post(PATH, body)
                latencies.append(time.perf_counter() - t0)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            conn.writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")

    return {
        "requests": len(ordered),
        "rps": len(ordered) / elapsed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "statuses": statuses,
    }


def _wait_http(port: int, path: str, timeout: float = 120.0) -> None:  # a loaded machine starts slowly
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"nothing answered on {port}{path}")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the uvicorn workers of ``--workers``)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        with contextlib.suppress(OSError):  # it ended meanwhile
            todo += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
    return out


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its descendants (Linux /proc)."""
    total = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def _measure(name: str, cmd: list[str], env: dict[str, str], port: int, ready: str, args, log, script) -> dict:
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_http(port, ready)
        if script is not None:
            _drive_wrk(port, min(2.0, args.seconds), args.connections, script)  # warm-up
            cpu0 = _cpu_s(proc.pid)
            result = _drive_wrk(port, args.seconds, args.connections, script)
        else:
            asyncio.run(_drive(port, min(2.0, args.seconds), args.connections))  # warm-up
            cpu0 = _cpu_s(proc.pid)
            result = asyncio.run(_drive(port, args.seconds, args.connections))
        # the server's own CPU per request: what the shared machine's load does not change much
        result["cpu_us"] = (_cpu_s(proc.pid) - cpu0) * 1e6 / max(1, result["requests"])
    finally:
        _stop(proc)
    result["name"] = name
    return result


def _gateway_env(port: int, nats_url: str, outbox: Path) -> dict[str, str]:
    return dict(os.environ) | {
        "AT_GATEWAY_PORT": str(port),
        "AT_GATEWAY_NATS_URL": nats_url,
        "AT_GATEWAY_WEBHOOK_SECRETS": SECRET,
        "AT_GATEWAY_OUTBOX_PATH": str(outbox),
        "AT_GATEWAY_RATE_LIMIT_PER_MINUTE": "100000000",
        "AT_GATEWAY_ROUTE_RATE_LIMIT_PER_MINUTE": "100000000",
        "AT_GATEWAY_LOG_LEVEL": "INFO",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--client", choices=("wrk", "asyncio"), default="wrk" if shutil.which("wrk") else "asyncio")
    parser.add_argument("--workers", type=int, default=0, help="also measure the gateway with N uvicorn workers")
    parser.add_argument("--granian", action="store_true", help="also measure the gateway under granian")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="at-bench-gateway-"))
    script = _wrk_script(workdir) if args.client == "wrk" else None
    nats_server = NatsServer().start()
    bin_dir = Path(sys.executable).parent
    results = []
    try:
        with (workdir / "servers.log").open("ab") as log:

            def run(name: str, cmd: list[str], env: dict[str, str], port: int, ready: str) -> dict:
                results.append(_measure(name, cmd, env, port, ready, args, log, script))
                return results[-1]

            port = free_port()
            run(
                "body-only FastAPI",
                [sys.executable, __file__, "--serve-ceiling", str(port)],
                dict(os.environ),
                port,
                "/openapi.json",
            )
            port = free_port()
            minimal = run(
                "minimal FastAPI+Pydantic+JetStream",
                [sys.executable, __file__, "--serve-minimal-js", str(port), nats_server.url],
                dict(os.environ),
                port,
                "/readyz",
            )
            minimal["baseline"] = None
            port = free_port()
            gateway_bin = [str(bin_dir / "at-gateway")]
            if os.environ.get("BENCH_PROFILE"):  # a cProfile dump of the gateway process, for tuning
                gateway_bin = [sys.executable, __file__, "--serve-gateway-profiled", os.environ["BENCH_PROFILE"]]
            env = _gateway_env(port, nats_server.url, workdir / "outbox.sqlite3")
            run("gateway, uvicorn, 1 worker", gateway_bin, env, port, "/readyz")["baseline"] = minimal
            if args.granian:
                port = free_port()
                env = _gateway_env(port, nats_server.url, workdir / "outbox-granian.sqlite3")
                env["AT_GATEWAY_SERVER"] = "granian"
                run("gateway, granian, 1 worker", gateway_bin, env, port, "/readyz")["baseline"] = minimal
            if args.workers > 1:
                port = free_port()
                env = _gateway_env(port, nats_server.url, workdir / "outbox-workers.sqlite3")
                env["AT_GATEWAY_WORKERS"] = str(args.workers)
                run(f"gateway, uvicorn, {args.workers} workers", gateway_bin, env, port, "/readyz")["baseline"] = (
                    minimal
                )
    finally:
        nats_server.close()
        shutil.rmtree(workdir, ignore_errors=True)
    load = os.getloadavg()
    print(
        f"\n{args.connections} connections, {args.seconds:.0f}s each, client {args.client}, {os.cpu_count()} cores,"
        f" load average before the last run {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(
        f"{'target':<36} {'requests':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}  {'vs minimal JS':>13}"
        f" {'CPU us/req':>10} {'CPU vs min':>10}  statuses"
    )
    for r in results:
        base = r.get("baseline")
        ratio = f"{r['rps'] / base['rps']:.2f}x" if base else ""
        cpu_ratio = f"{r['cpu_us'] / base['cpu_us']:.2f}x" if base else ""
        print(
            f"{r['name']:<36} {r['requests']:>9} {r['rps']:>9.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f}"
            f"  {ratio:>13} {r['cpu_us']:>10.0f} {cpu_ratio:>10}  {r['statuses']}"
        )
    print(f"\n{'redaction of a 1 MiB body':<38} {'total ms':>9} {'us per KB':>10}")
    for name, size, seconds in redaction_cost():
        print(f"{name:<38} {seconds * 1000:>9.1f} {seconds * 1e6 / (size / 1024):>10.1f}")
    gw = results[2]
    print(
        f"\ngateway (1 worker) / minimal JetStream endpoint, same run: {gw['rps'] / minimal['rps']:.2f}x"
        f" (target >= 0.60x); gateway p99 {gw['p99_ms']:.1f} ms (target < 50);"
        f" minimal JetStream / body-only: {minimal['rps'] / results[0]['rps']:.2f}x"
    )
    print(
        f"CPU per request, same run: gateway {gw['cpu_us']:.0f} us, minimal JetStream {minimal['cpu_us']:.0f} us,"
        f" body-only {results[0]['cpu_us']:.0f} us: the minimal endpoint's CPU / the gateway's"
        f" {minimal['cpu_us'] / gw['cpu_us']:.2f}x (the throughput ratio the gateway would reach were the"
        " cores its own)"
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve-ceiling":
        _serve_ceiling(int(sys.argv[2]))
    elif len(sys.argv) == 4 and sys.argv[1] == "--serve-minimal-js":
        _serve_minimal_jetstream(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "--serve-gateway-profiled":
        _serve_gateway_profiled(sys.argv[2])
    else:
        main()
