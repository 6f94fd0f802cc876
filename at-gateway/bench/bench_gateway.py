"""`make bench-gateway`: the full webhook path against the HTTP ceiling, in the same run.

Starts a real nats-server and, each in its own process with one uvicorn worker:
  * ``ceiling``: a minimal FastAPI app whose only route reads the body and answers 202;
  * ``gateway``: the real gateway (auth, validation, de-duplication, JetStream-acknowledged
    publish, metrics, JSON logs to a file) on a fresh outbox.
Then drives both on loopback with ``--connections`` keep-alive connections for ``--seconds``
each (wrk when installed, else the asyncio HTTP/1.1 client below), every alert with its own
``alert_id`` so none is a duplicate, and prints requests/s and p50/p99 latency side by side.
Then prints the redaction cost per KB of 1 MiB bodies, ordinary and hostile (the patterns are
linear: target well under a second per MiB). Asserts nothing: targets live here, never in tests.

    .venv/bin/python at-gateway/bench/bench_gateway.py [--seconds 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
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
    """The minimal endpoint: read the body, answer 202."""
    app = FastAPI()

    @app.post("/webhooks/tradingview/{token}")
    async def read_only(token: str, request: Request) -> JSONResponse:
        body = await request.body()
        return JSONResponse({"status": "accepted", "bytes": len(body)}, status_code=202)

    return app


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


def _wait_http(port: int, path: str, timeout: float = 30.0) -> None:
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


def _measure(name: str, cmd: list[str], env: dict[str, str], port: int, ready: str, args, log) -> dict:
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_http(port, ready)
        asyncio.run(_drive(port, min(2.0, args.seconds), args.connections))  # warm-up
        result = asyncio.run(_drive(port, args.seconds, args.connections))
    finally:
        _stop(proc)
    result["name"] = name
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk"):
        print("note: wrk is installed, but every alert needs its own alert_id; using the asyncio client")
    workdir = Path(tempfile.mkdtemp(prefix="at-bench-gateway-"))
    nats_server = NatsServer().start()
    results = []
    try:
        with (workdir / "servers.log").open("ab") as log:
            port = free_port()
            results.append(
                _measure(
                    "ceiling (FastAPI, reads body)",
                    [sys.executable, __file__, "--serve-ceiling", str(port)],
                    dict(os.environ),
                    port,
                    "/openapi.json",
                    args,
                    log,
                )
            )
            port = free_port()
            env = dict(os.environ) | {
                "AT_GATEWAY_PORT": str(port),
                "AT_GATEWAY_NATS_URL": nats_server.url,
                "AT_GATEWAY_WEBHOOK_SECRETS": SECRET,
                "AT_GATEWAY_OUTBOX_PATH": str(workdir / "outbox.sqlite3"),
                "AT_GATEWAY_RATE_LIMIT_PER_MINUTE": "100000000",
                "AT_GATEWAY_ROUTE_RATE_LIMIT_PER_MINUTE": "100000000",
                "AT_GATEWAY_LOG_LEVEL": "INFO",
            }
            gateway_bin = [str(Path(sys.executable).parent / "at-gateway")]
            if os.environ.get("BENCH_PROFILE"):  # a cProfile dump of the gateway process, for tuning
                gateway_bin = [sys.executable, __file__, "--serve-gateway-profiled", os.environ["BENCH_PROFILE"]]
            results.append(_measure("gateway (full path, JetStream ack)", gateway_bin, env, port, "/readyz", args, log))
    finally:
        nats_server.close()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{args.connections} connections, {args.seconds:.0f}s each, one uvicorn worker, {os.cpu_count()} cores")
    print(f"{'target':<38} {'requests':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}  statuses")
    for r in results:
        print(
            f"{r['name']:<38} {r['requests']:>9} {r['rps']:>9.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f}  {r['statuses']}"
        )
    print(f"\n{'redaction of a 1 MiB body':<38} {'total ms':>9} {'us per KB':>10}")
    for name, size, seconds in redaction_cost():
        print(f"{name:<38} {seconds * 1000:>9.1f} {seconds * 1e6 / (size / 1024):>10.1f}")
    ratio = results[1]["rps"] / results[0]["rps"]
    print(f"\ngateway / ceiling: {ratio:.0%} (target >= 60%); gateway p99 {results[1]['p99_ms']:.1f} ms (target < 50)")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve-ceiling":
        _serve_ceiling(int(sys.argv[2]))
    elif len(sys.argv) == 3 and sys.argv[1] == "--serve-gateway-profiled":
        _serve_gateway_profiled(sys.argv[2])
    else:
        main()
