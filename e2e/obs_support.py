"""Support for the replay and dashboard whole-stack tests: routes, traffic, quiescence, at-replay, Prometheus.

Builds on ``e2e/stack_harness.py`` (``LiveStack``) without changing it: extra settings go in
through ``extra_env``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import yaml

from at_core.testing import free_port
from at_obs.adapters.quiescence import wait_quiescent
from e2e.stack_harness import SECRET, LiveStack
from tools import stack as stack_mod
from tools.trace import is_settled

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]
DASHBOARDS = ROOT / "at-obs" / "grafana" / "dashboards"
PROFILES = ROOT / "at-exec-sim" / "src" / "at_exec_sim" / "data" / "profiles"

# Services whose outputs replay must reproduce run on the event clock with a fixed seed. The
# gateway is the edge: its events are the inputs, replayed with their recorded ids and times.
REPLAY_ENV = {
    "AT_AGENTS_REPLAY_MODE": "true",
    "AT_AGENTS_SEED": "7",
    "AT_EXEC_SIM_REPLAY_MODE": "true",
    "AT_EXEC_SIM_SEED": "7",
}
LIMITS_SECRET = "e2e-limits-secret"
LIMITS_ACCOUNT = "limits-1"
DRILL_SECRET = "e2e-drill-secret"
DRILL_STRATEGY = "e2e-deadline-drill"
UNKNOWN_ACCOUNT_SECRET = "e2e-unknown-account-secret"


def dashboard_env(run_dir: Path) -> dict[str, str]:
    """Routes to a paper account, an account with Topstep's loss limits (rule headroom), an unknown account (denials), a drill strategy.

    The drill strategy's committee has a zero deadline: every agent is dropped and no proposal
    is made, which is what the "Agents dropped" and "Signals without a proposal" panels show.
    """
    routes = run_dir / "dashboard-routes.json"
    committees = run_dir / "committees.yaml"
    accounts = run_dir / "dashboard-accounts.yaml"
    run_dir.mkdir(parents=True, exist_ok=True)
    routes.write_text(
        json.dumps(
            {
                "routes": [
                    {"secret": SECRET, "targets": [{"account_id": "paper-1", "strategy_id": "e2e"}]},
                    {
                        "secret": LIMITS_SECRET,
                        "targets": [{"account_id": LIMITS_ACCOUNT, "strategy_id": "mes-trend"}],
                    },
                    {"secret": DRILL_SECRET, "targets": [{"account_id": "paper-1", "strategy_id": DRILL_STRATEGY}]},
                    # exec-sim fails closed on an account it does not know: a denial whatever the profiles say
                    {
                        "secret": UNKNOWN_ACCOUNT_SECRET,
                        "targets": [{"account_id": "not-in-exec-sim", "strategy_id": "e2e"}],
                    },
                ]
            }
        )
    )
    accounts.write_text(
        "accounts:\n  - {account_id: paper-1, profile: retail}\n"
        f"  - {{account_id: {LIMITS_ACCOUNT}, profile: {write_profiles(run_dir / 'profiles')}}}\n"
    )
    committees.write_text(
        "committees:\n"
        "  - name: deadline-drill\n"
        f"    strategies: [{DRILL_STRATEGY}]\n"
        "    deadline_s: 0\n"
        "    members:\n"
        "      - {agent_id: signal_follower, weight: '1'}\n"
        "  - name: default\n"
        "    strategies: ['*']\n"
        "    rule: weighted_mean\n"
        "    threshold: '0.2'\n"
        "    members:\n"
        "      - {agent_id: signal_follower, weight: '1'}\n"
        "      - {agent_id: trend_filter, weight: '0.5'}\n"
        "      - {agent_id: volatility_sizer, weight: '0.25'}\n"
        "      - {agent_id: session_guard, weight: '0', veto: true}\n"
        "    max_quantity: {future: '100', fx: '1000000', crypto_spot: '5', crypto_perp: '5'}\n"
    )
    return {
        "AT_GATEWAY_ROUTES_FILE": str(routes),
        "AT_AGENTS_COMMITTEES_FILE": str(committees),
        "AT_EXEC_SIM_ACCOUNTS_FILE": str(accounts),
        "AT_EXEC_SIM_PROFILES_DIR": str(run_dir / "profiles"),
    }


def write_profiles(directory: Path) -> str:
    """The shipped retail profile and Topstep's limits without its trading sessions; returns the latter's id.

    Topstep accounts are flattened and locked outside 18:00-15:10 CT Sunday to Thursday: a test
    trading one would fail in the evenings and at weekends.
    """
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROFILES / "retail.yaml", directory / "retail.yaml")
    profile = yaml.safe_load((PROFILES / "topstep_50k.yaml").read_text())
    profile["limits"].pop("sessions", None)
    profile["profile_id"] = "e2e_topstep_limits_any_time"
    (directory / "limits.yaml").write_text(yaml.safe_dump(profile))
    return str(profile["profile_id"])


_serial = 0


def mes_alert(action: str, contracts: int, **extra: Any) -> str:
    """An order-style MES alert with a unique alert id."""
    global _serial
    _serial += 1
    body = {
        "ticker": "MES1!",
        "exchange": "CME_MINI",
        "close": "6012.25",
        "strategy": {"order": {"action": action, "contracts": str(contracts)}},
        "alert_id": f"obs-e2e-{time.time_ns()}-{_serial}",
    }
    return json.dumps(body | extra)


async def post_alert(http: httpx.AsyncClient, secret: str, body: str, expect: int = 202) -> dict[str, Any]:
    resp = await http.post(f"/webhooks/tradingview/{secret}", content=body, headers={"content-type": "text/plain"})
    assert resp.status_code == expect, (secret, body, resp.status_code, resp.text)
    return resp.json()


@contextlib.asynccontextmanager
async def admin_nats(stack: LiveStack) -> AsyncIterator[nats.aio.client.Client]:
    nc = await nats.connect(stack.stack.nats_url, user="admin", password=stack.stack.admin_password, name="e2e-obs")
    try:
        yield nc
    finally:
        await nc.close()


async def quiesce(stack: LiveStack, timeout: float = 20) -> None:
    """Wait until every durable consumer of the stack has handled everything (what at-replay waits for)."""
    async with admin_nats(stack) as nc:
        busy = await wait_quiescent(nc.jetstream(), timeout)
    assert not busy, f"consumers still busy after {timeout}s: {busy}"


async def start_quiet(stack: LiveStack, timeout: float = 60) -> None:
    """Start every process and wait for readiness, without LiveStack.start's market data post.

    A replay target must be empty: its only inputs are the ones at-replay publishes.
    """
    stack.procs.start_all()
    await stack.wait_ready(timeout)


async def record_session(stack: LiveStack) -> list[str]:
    """A short MES session through the gateway: in, add, partly out, out, and a reversal.

    Each alert is sent once the previous one's story is complete and the stack is idle, as
    at-replay does with inputs, so the recording is what replay reproduces. Returns the
    correlation ids.
    """
    correlations = []
    await quiesce(stack)  # the quotes LiveStack.start posted are taken in
    async with stack.http("gateway") as http:
        for action, contracts in (("buy", 1), ("buy", 2), ("sell", 1), ("sell", 2), ("sell", 1)):
            accepted = await post_alert(http, SECRET, mes_alert(action, contracts))
            events = await stack.tracer.wait_for(accepted["correlation_id"], is_settled, timeout=20)
            assert is_settled(events), [e.event_type for e in events]
            await quiesce(stack)
            correlations.append(accepted["correlation_id"])
    return correlations


async def recorded_head(stack: LiveStack, expected: int, timeout: float = 20) -> int:
    """The recorder's head sequence once it reaches ``expected`` (or the deadline)."""
    deadline = time.monotonic() + timeout
    async with stack.http("obs") as http:
        while True:
            head = int((await http.get("/readyz")).json()["head_seq"])
            if head >= expected or time.monotonic() > deadline:
                return head
            await asyncio.sleep(0.1)  # recorder state over HTTP: no message to await


@dataclass
class ReplayRun:
    exit_code: int
    output: str
    manifest: dict[str, Any]


async def at_replay(stack: LiveStack, recording: Path, out_dir: Path, *args: str) -> ReplayRun:
    """``at-replay run RECORDING --verify`` as an operator runs it: a process, the admin NATS user."""
    manifest = out_dir / "manifest.json"
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "at-replay"),
        "run",
        str(recording),
        "--nats",
        stack.stack.nats_url,
        "--user",
        "admin",
        "--password",
        stack.stack.admin_password,
        "--verify",
        "--seed",
        REPLAY_ENV["AT_EXEC_SIM_SEED"],
        "--settle",
        "0.1",
        "--manifest",
        str(manifest),
        *args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if not k.startswith("AT_")} | {"COLUMNS": "200"},
    )
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return ReplayRun(
        proc.returncode, out.decode(errors="replace"), json.loads(manifest.read_text()) if manifest.exists() else {}
    )


# --- Prometheus -------------------------------------------------------------------------


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, PromQL) of every panel of every committed dashboard."""
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                out.append((path.stem, panel["title"], target["expr"]))
    return out


class ServiceUnavailable(RuntimeError):
    """Prometheus answered 503: not ready yet."""


class Prometheus:
    """Debian's prometheus on a free loopback port, scraping a stack's /metrics every second."""

    def __init__(self, binary: str, stack: LiveStack, run_dir: Path) -> None:
        self.binary, self.stack, self.run_dir = binary, stack, run_dir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> str:
        """The local scrape config (at-obs/prometheus/prometheus.yml) with this stack's ports."""
        jobs = "".join(
            f"  - job_name: {service}\n    static_configs: [{{targets: ['127.0.0.1:{self.stack.stack.ports[service]}']}}]\n"
            for service in stack_mod.SERVICES
        )
        return "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n" + jobs

    def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "prometheus.yml").write_text(self.config())
        log = (self.run_dir / "prometheus.log").open("ab")
        self.proc = subprocess.Popen(
            [
                self.binary,
                f"--config.file={self.run_dir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.run_dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        shutil.rmtree(self.run_dir / "data", ignore_errors=True)

    def log(self) -> str:
        return stack_mod.tail(self.run_dir / "prometheus.log", 30)

    async def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector of ``expr`` (HTTP API /api/v1/query)."""
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as http:
            resp = await http.get("/api/v1/query", params={"query": expr})
        if resp.status_code == 503:  # still starting (replaying its WAL)
            raise ServiceUnavailable(resp.text)
        body = resp.json()
        assert body.get("status") == "success", (expr, body)
        return list(body["data"]["result"])

    async def wait_for(self, expr: str, timeout: float = 30) -> list[dict[str, Any]]:
        """Poll ``expr`` until it has a finite sample (scrapes happen every second) or the deadline passes."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                result = await self.query(expr)
            except (httpx.TransportError, ServiceUnavailable):
                result = []
            if has_data(result) or time.monotonic() > deadline:
                return result
            await asyncio.sleep(0.25)  # Prometheus state over HTTP: no message to await


def has_data(result: list[dict[str, Any]]) -> bool:
    """At least one series with a finite value (``histogram_quantile`` of no observations is NaN)."""
    return any(math.isfinite(float(sample["value"][1])) for sample in result)


async def dashboard_traffic(stack: LiveStack) -> None:
    """One round of what the dashboards show, then wait until the stack has handled all of it.

    Trades on a paper account and one with loss limits (fills, slippage, positions, equity, rule headroom),
    an order for an account exec-sim does not know (a denial), a signal to the zero-deadline committee
    (agents dropped, no proposal), and what the gateway refuses: a wrong secret, a duplicate, an
    unreplaced placeholder, a stale alert, an alert without a ticker.
    """
    stale = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    async with stack.http("gateway") as http:
        await post_alert(http, SECRET, mes_alert("buy", 1))
        await post_alert(http, SECRET, mes_alert("sell", 1))
        await post_alert(http, LIMITS_SECRET, mes_alert("buy", 1))
        await post_alert(http, UNKNOWN_ACCOUNT_SECRET, mes_alert("buy", 1))
        await post_alert(http, DRILL_SECRET, mes_alert("buy", 1))
        await post_alert(http, "not-a-configured-secret", mes_alert("buy", 1), expect=401)
        twice = mes_alert("sell", 1)
        await post_alert(http, SECRET, twice)
        await post_alert(http, SECRET, twice, expect=200)
        await post_alert(http, SECRET, mes_alert("buy", 1, close="{{close}}"), expect=422)
        await post_alert(http, SECRET, mes_alert("buy", 1, time=stale), expect=422)
        await post_alert(http, SECRET, json.dumps({"strategy": {"order": {"action": "buy"}}}), expect=422)
    await quiesce(stack)
