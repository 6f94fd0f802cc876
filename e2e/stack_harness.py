"""Start the whole stack as real processes (from stack/Procfile) on free ports, one process at a time.

``LiveStack`` starts nats-server (per-service least-privilege users), the gateway, agents,
exec-sim and the recorder; tests kill -9 and restart any of them through ``procs``. Besides
``paper-1`` (secret :data:`SECRET`), the stack knows a pool of paper accounts, one webhook
secret each (:func:`account_secret`), so a test can give every alert an account of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path

import httpx

from at_core.constants import SERVICES
from at_core.service_kit import Scope, dev_headers
from e2e.ledger import Ledger
from tools import stack as stack_mod
from tools.demo import QUOTES, stack_env
from tools.trace import Tracer

SECRET = "e2e-secret"
#: Procfile process name of each service that answers /readyz.
PROCESS = {s.name: s.process for s in SERVICES}


def account_id(k: int) -> str:
    return f"e2e-{k:04d}"


def account_secret(k: int) -> str:
    return f"e2e-secret-{k:04d}"


def write_accounts(run_dir: Path, pool: int) -> tuple[Path, Path]:
    """routes.json (gateway: one secret per account) and accounts.yaml (exec-sim: paper accounts)."""
    routes = [{"secret": SECRET, "targets": [{"account_id": "paper-1", "strategy_id": "e2e"}]}]
    routes += [
        {"secret": account_secret(k), "targets": [{"account_id": account_id(k), "strategy_id": "e2e"}]}
        for k in range(pool)
    ]
    routes_file = run_dir / "routes.json"
    routes_file.write_text(json.dumps({"routes": routes}))
    accounts = ["accounts:", "  - {account_id: paper-1, profile: retail}"]
    accounts += [f"  - {{account_id: {account_id(k)}, profile: retail}}" for k in range(pool)]
    accounts_file = run_dir / "accounts.yaml"
    accounts_file.write_text("\n".join(accounts) + "\n")
    return routes_file, accounts_file


class LiveStack:
    """The local stack on free loopback ports, with a tracer (core NATS) and a ledger (JetStream)."""

    def __init__(self, run_dir: Path, extra_env: dict[str, str] | None = None, *, accounts: int = 0) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        routes, accounts_file = write_accounts(run_dir, accounts)
        env = (
            stack_env(run_dir, routes)
            | {
                "AT_GATEWAY_RATE_LIMIT_PER_MINUTE": "100000",
                "AT_GATEWAY_ROUTE_RATE_LIMIT_PER_MINUTE": "100000",
                "AT_EXEC_SIM_ACCOUNTS_FILE": str(accounts_file),
            }
            | (extra_env or {})
        )
        self.stack = stack_mod.new_stack(run_dir, pick_free_ports=True, extra_env=env)
        self.procs = stack_mod.Processes(self.stack)
        self.tracer = Tracer()
        self.ledger = Ledger([self.stack.nats_url], "admin", self.stack.admin_password)

    async def start(self, timeout: float = 60) -> None:
        """Start every process, wait for every /readyz, seed quotes; on failure stop what started."""
        try:
            self.procs.start_all()
            await self.wait_ready(timeout)
            await self.tracer.start(self.stack.nats_url, user="admin", password=self.stack.admin_password)
            await self.ledger.connect()
            async with self.http("gateway") as http:
                resp = await http.post("/ingest/market-data", json={"items": QUOTES}, headers=dev_headers(Scope.TRADER))
                assert resp.status_code == 202, resp.text
        except BaseException:
            await self.stop()
            raise

    async def wait_ready(self, timeout: float = 60, services: tuple[str, ...] = stack_mod.SERVICES) -> None:
        """Poll /readyz of ``services`` until each answers 200; fail at once if a process exited."""
        deadline = time.monotonic() + timeout
        pending = set(services)
        async with httpx.AsyncClient(timeout=1) as client:
            while pending and time.monotonic() < deadline:
                for service in sorted(pending):
                    proc = self.procs.procs.get(PROCESS[service])
                    if proc is None or proc.poll() is not None:
                        raise RuntimeError(f"{service} is not running\n{self.procs.log(PROCESS[service])}")
                    with contextlib.suppress(httpx.TransportError):
                        if (await client.get(self.stack.url(service, "/readyz"))).status_code == 200:
                            pending.discard(service)
                if pending:
                    await asyncio.sleep(0.2)
        if pending:
            logs = "\n".join(f"--- {s}\n{self.procs.log(PROCESS[s])}" for s in sorted(pending))
            raise RuntimeError(f"not ready within {timeout:.0f}s: {sorted(pending)}\n{logs}")

    def http(self, service: str, *, connections: int = 100, keepalive: bool = True) -> httpx.AsyncClient:
        """A client for one service. Waiting for one of its ``connections`` is the test's own queue,
        not the service's latency, so only connect, read and write are timed. Without ``keepalive``
        every request opens its own connection, as TradingView does (and no request can meet a
        connection the server is closing after its idle timeout)."""
        return httpx.AsyncClient(
            base_url=self.stack.url(service),
            timeout=httpx.Timeout(15, pool=None),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections if keepalive else 0),
        )

    async def post_alert(self, http: httpx.AsyncClient, body: str, secret: str = SECRET) -> str:
        """POST one TradingView alert; return its correlation id (the gateway must accept it)."""
        resp = await http.post(f"/webhooks/tradingview/{secret}", content=body)
        assert resp.status_code == 202, resp.text
        return str(resp.json()["correlation_id"])

    async def stop(self) -> None:
        """Stop the tracer, the ledger and every process (also after a partial start)."""
        with contextlib.suppress(Exception):  # the tracer may be mid-reconnect after a NATS restart
            await self.tracer.stop()
        await self.ledger.close()
        self.procs.stop_all()


def alert(i: int, *, long: bool = True) -> str:
    """Buy or sell one MES: an order-style alert, so each yields exactly one order whatever the position."""
    return json.dumps(
        {
            "ticker": "MES1!",
            "exchange": "CME_MINI",
            "close": "6012.25",
            "strategy": {"order": {"action": "buy" if long else "sell", "contracts": "1"}},
            "alert_id": f"e2e-{time.time_ns()}-{i}",
        }
    )
