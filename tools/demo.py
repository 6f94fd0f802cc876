"""`make demo`: the whole stack on an embedded NATS, a scripted set of TradingView alerts,
and a readable trace of each one (signal, each agent's view, the proposal, the risk
decision, the order, the fill, the position and P&L). Leaves nothing running.

`make up` (``--serve``) starts the same stack and keeps it running for real alerts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from at_core.constants import DEFAULT_ACCOUNT_ID
from at_core.service_kit import Scope, dev_headers
from tools import stack as stack_mod
from tools.trace import Tracer, is_settled, render

ROOT = Path(__file__).resolve().parents[1]
DEV_WEBHOOK_SECRET = "dev-webhook-secret"
console = Console(highlight=False)

ROUTES = {
    "routes": [
        {"secret": "demo-topstep-secret", "targets": [{"account_id": "topstep-50k-1", "strategy_id": "mes-trend"}]},
        {"secret": "demo-ftmo-secret", "targets": [{"account_id": "ftmo-100k-1", "strategy_id": "fx-swing"}]},
        {"secret": "demo-crypto-secret", "targets": [{"account_id": "crypto-1", "strategy_id": "btc-breakout"}]},
    ]
}
QUOTES = [
    {
        "kind": "quote",
        "symbol": "CME_MINI:MES1!",
        "bid": "6012.00",
        "ask": "6012.25",
        "bid_size": "40",
        "ask_size": "35",
    },
    {
        "kind": "quote",
        "symbol": "OANDA:EURUSD",
        "bid": "1.08412",
        "ask": "1.08419",
        "bid_size": "1000000",
        "ask_size": "1000000",
    },
    {
        "kind": "quote",
        "symbol": "FX:USDJPY",
        "bid": "154.210",
        "ask": "154.222",
        "bid_size": "1000000",
        "ask_size": "1000000",
    },
    {
        "kind": "quote",
        "symbol": "BINANCE:BTCUSDT",
        "bid": "97012.10",
        "ask": "97012.20",
        "bid_size": "3.2",
        "ask_size": "2.9",
    },
]


def _now_iso(offset: timedelta = timedelta(0)) -> str:
    return (datetime.now(UTC) + offset).strftime("%Y-%m-%dT%H:%M:%SZ")


def alerts() -> list[dict]:
    """The scripted alerts: name, secret, body, and what the demo expects."""
    mes = {
        "ticker": "MES1!",
        "exchange": "CME_MINI",
        "interval": "5",
        "close": "6012.25",
        "time": _now_iso(),
        "strategy": {
            "order": {"action": "buy", "contracts": "2", "price": "6012.25", "id": "Long Entry"},
            "position_size": "2",
            "market_position": "long",
            "prev_market_position": "flat",
        },
        "alert_id": f"demo-mes-{int(time.time())}",
    }
    paper = {**mes, "alert_id": f"demo-paper-{int(time.time())}"}
    return [
        {"name": "MES long (Topstep 50K)", "token": "demo-topstep-secret", "body": mes, "expect": 202},
        {"name": "MES long (paper account)", "token": "dev-webhook-secret", "body": paper, "expect": 202},
        {
            "name": "EUR/USD long (FTMO 100K)",
            "token": "demo-ftmo-secret",
            "expect": 202,
            "body": {
                "ticker": "EURUSD",
                "exchange": "OANDA",
                "interval": "60",
                "close": "1.08419",
                "time": _now_iso(),
                "strategy": {
                    "order": {"action": "buy", "contracts": "20000", "price": "1.08419", "id": "L"},
                    "position_size": "20000",
                    "market_position": "long",
                    "prev_market_position": "flat",
                },
                "alert_id": f"demo-eurusd-{int(time.time())}",
            },
        },
        {
            "name": "BTC/USDT long (crypto)",
            "token": "demo-crypto-secret",
            "expect": 202,
            "body": {
                "ticker": "BTCUSDT",
                "exchange": "BINANCE",
                "interval": "15",
                "close": "97012.20",
                "time": _now_iso(),
                "strategy": {
                    "order": {"action": "buy", "contracts": "0.01", "price": "97012.20", "id": "L"},
                    "position_size": "0.01",
                    "market_position": "long",
                    "prev_market_position": "flat",
                },
                "alert_id": f"demo-btc-{int(time.time())}",
            },
        },
        {"name": "MES duplicate (same alert id)", "token": "demo-topstep-secret", "body": mes, "expect": 200},
        {
            "name": "stale alert (2 hours old)",
            "token": "demo-topstep-secret",
            "expect": 422,
            "body": {**mes, "time": _now_iso(-timedelta(hours=2)), "alert_id": "demo-stale"},
        },
        {"name": "wrong secret", "token": "not-the-secret", "body": {**mes, "alert_id": "demo-bad"}, "expect": 401},
    ]


async def run_scenario(stk: stack_mod.Stack) -> list[tuple[str, str, str]]:
    tracer = Tracer()
    await tracer.start(stk.nats_url, user="admin", password=stk.admin_password)
    rows: list[tuple[str, str, str]] = []
    async with httpx.AsyncClient(base_url=stk.url("gateway"), timeout=10) as http:
        resp = await http.post("/ingest/market-data", json={"items": QUOTES}, headers=dev_headers(Scope.TRADER))
        console.print(
            f"[dim]market data: {resp.status_code} {len(QUOTES)} quotes (MES, EUR/USD, USD/JPY, BTC/USDT)[/dim]"
        )
        for alert in alerts():
            console.rule(f"[bold]{alert['name']}")
            resp = await http.post(
                f"/webhooks/tradingview/{alert['token']}",
                content=json.dumps(alert["body"]),
                headers={"content-type": "text/plain"},
            )
            body = resp.json()
            console.print(f"gateway    HTTP {resp.status_code} {json.dumps(body)[:160]}")
            outcome = f"HTTP {resp.status_code}"
            if resp.status_code == 202:
                correlation = body["correlation_id"]
                events = await tracer.wait_for(correlation, is_settled, timeout=SETTLE_TIMEOUT_S)
                for line in render(events):
                    console.print(f"  {line}")
                for line in llm_lines(events):
                    console.print(f"  {line}")
                outcome = _outcome(events)
            ok = "as expected" if resp.status_code == alert["expect"] else f"UNEXPECTED (wanted {alert['expect']})"
            rows.append((alert["name"], outcome, ok))
    await tracer.stop()
    return rows


def _outcome(events) -> str:
    for e in events:
        if e.event_type == "risk_decision" and not e.approved:
            return "denied: " + ", ".join(r.code for r in e.reasons)
    fills = [e for e in events if e.event_type == "fill"]
    if fills:
        f = fills[-1]
        return f"filled {f.side} {format(f.quantity.normalize(), 'f')} @ {format(f.price.normalize(), 'f')}"
    if any(e.event_type == "trade_proposal" for e in events):
        return "proposed, no fill yet"
    return "no proposal"


def print_summary(rows: list[tuple[str, str, str]], stk: stack_mod.Stack) -> None:
    table = Table(title="Demo summary")
    for col in ("alert", "outcome", "check"):
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print("Where to look next (while the stack runs, e.g. under `make up`):")
    console.print(f"  audit trail:   {stk.url('obs', '/audit?correlation_id=<id>')}")
    console.print(f"  positions:     {stk.url('exec_sim', '/positions')}   account: {stk.url('exec_sim', '/account')}")
    console.print(f"  decisions:     {stk.url('agents', '/decisions?symbol=MES.CME')}")
    console.print(f"  metrics:       {stk.url('gateway', '/metrics')} (and :8081, :8082, :8083)")
    console.print(f"  logs:          {stk.run_dir}/<process>.log")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Ports and settings: every AT_* variable of the environment or of .env (the environment wins), "
        "e.g. `AT_GATEWAY_PORT=9080 make up`; AT_STACK_NATS_PORT / AT_STACK_NATS_MONITOR_PORT move nats-server.",
    )
    parser.add_argument("--serve", action="store_true", help="keep the stack running for real alerts (make up)")
    parser.add_argument("--llm-local", action="store_true", help="add the local model (SmolLM2-135M) to the committees")
    parser.add_argument("--run-dir", type=Path, help="where configs, logs and stores go (default var/up or var/demo-*)")
    args = parser.parse_args(argv)
    run_dir = args.run_dir or ROOT / "var" / ("up" if args.serve else f"demo-{int(time.time())}")
    run_dir.mkdir(parents=True, exist_ok=True)
    routes = run_dir / "routes.json"
    routes.write_text(json.dumps(ROUTES, indent=2))
    try:
        stk = stack_mod.new_stack(
            run_dir, extra_env=stack_env(run_dir, routes), settings=stack_mod.settings_from_environment()
        )
    except ValueError as exc:
        console.print(f"[red]bad setting[/red]: {exc}")
        return 2
    try:
        stack_mod.check_ports(stk)
    except stack_mod.PortsInUse as exc:
        console.print(f"[bold red]not started[/bold red]: {exc}", soft_wrap=True)
        return 1
    for note in stk.ignored_settings:
        console.print(f"[yellow]ignored setting[/yellow]: {note}")
    llm_server, llm_env = start_llm_local(run_dir) if args.llm_local else (None, {})
    stk.extra_env.update(llm_env)
    if not args.llm_local:
        console.print("[dim]local model: off (`make demo-llm` adds an LLM's view to the trace)[/dim]")
    console.print(f"[bold]Starting the stack[/bold] (NATS :{stk.nats_port}, logs in {run_dir}/<process>.log)")
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        with stack_mod.running(stk):
            console.print("[green]all services ready[/green]")
            if args.serve:
                serve_banner(stk)
                stack_mod.supervise(stk)
            rows = asyncio.run(run_scenario(stk))
            print_summary(rows, stk)
            return 0 if all(r[2] == "as expected" for r in rows) else 1
    except KeyboardInterrupt:
        console.print("\nstopping the stack")
        return 130
    except stack_mod.ProcessDied as exc:
        console.print(f"\n[bold red]STACK DOWN[/bold red]: {exc}", soft_wrap=True, markup=False)
        return 1
    except stack_mod.PortsInUse as exc:
        console.print(f"[bold red]not started[/bold red]: {exc}", soft_wrap=True)
        return 1
    except RuntimeError as exc:
        console.print(f"[red]{exc}[/red]", soft_wrap=True, markup=False)
        return 1
    finally:
        if llm_server is not None:
            llm_server.stop()


# --- the local model (--llm-local): an LLM's view in the trace ------------------------------
SETTLE_TIMEOUT_S = 20.0


def start_llm_local(run_dir: Path):  # type: ignore[no-untyped-def]
    """Start SmolLM2-135M on llama.cpp and point the agents at it, or say plainly why not."""
    global SETTLE_TIMEOUT_S
    from at_agents.adapters.llm import local_server
    from at_core.testing import free_port

    try:
        server = local_server.start_local_llm(free_port(), run_dir / "llama-server.log")
    except local_server.LocalLlmError as exc:
        console.print(f"[yellow]local model: not available: {str(exc).splitlines()[0]}[/yellow]")
        return None, {}
    shipped = ROOT / "at-agents/src/at_agents/data/committees.local.yaml"
    committees = run_dir / "committees.local.yaml"
    committees.write_text(shipped.read_text().replace("http://127.0.0.1:8090/v1", server.url))
    SETTLE_TIMEOUT_S = 120.0  # a debate on two shared cores takes a while
    console.print(f"[green]local model: {local_server.ALIAS} at {server.url}[/green] (committees: {committees})")
    env = {"AT_AGENTS_COMMITTEES_FILE": str(committees), "AT_AGENTS_LLM_CACHE_DIR": str(run_dir / "llm-cache")}
    return server, env


def llm_lines(events) -> list[str]:  # type: ignore[no-untyped-def]
    """One line per LLM analysis: the view (or why it abstained), its latency and the server's token count."""
    out = []
    for e in events:
        if e.event_type != "agent_analysis" or e.agent_kind != "llm":
            continue
        turn = f" ({e.debate_role}, round {e.debate_round})" if e.debate_role else ""  # not [..]: rich markup
        view = f"abstained ({(e.abstain_reason or '')[:60]})" if e.abstained else f"{e.stance} {e.conviction}"
        latency = f"{e.latency_ms} ms" if e.latency_ms is not None else "- ms"
        tokens = f"{e.input_tokens or 0}+{e.output_tokens or 0} tokens"
        out.append(f"llm        {e.agent_id}{turn} {e.model}: {view} | {latency} | {tokens}")
    return out


def stack_env(run_dir: Path, routes: Path) -> dict[str, str]:
    """Settings the demo and `make up` give the services (everything else is their defaults)."""
    return {
        "AT_GATEWAY_ROUTES_FILE": str(routes),
        "AT_GATEWAY_OUTBOX_PATH": str(run_dir / "gateway-outbox.sqlite3"),
        "AT_OBS_AUDIT_DB_PATH": str(run_dir / "audit.sqlite3"),
    }


def webhook_template() -> str:
    """The README's strategy-alert message, one line, ready to paste as the TradingView alert message."""
    return json.dumps(STRATEGY_TEMPLATE, separators=(", ", ": "))


#: The message of a Pine ``strategy()`` alert (the README's TradingView section shows the same).
STRATEGY_TEMPLATE = {
    "ticker": "{{ticker}}",
    "exchange": "{{exchange}}",
    "interval": "{{interval}}",
    "close": "{{close}}",
    "time": "{{timenow}}",
    "alert_id": "{{strategy.order.id}}-{{timenow}}",
    "strategy": {
        "order": {
            "action": "{{strategy.order.action}}",
            "contracts": "{{strategy.order.contracts}}",
            "price": "{{strategy.order.price}}",
        },
        "position_size": "{{strategy.position_size}}",
        "market_position": "{{strategy.market_position}}",
        "prev_market_position": "{{strategy.prev_market_position}}",
    },
}


def banner_lines(stk: stack_mod.Stack) -> list[str]:
    """What `make up` prints once the stack is ready (plain text: tests read it)."""
    secret = stk.extra_env.get("AT_GATEWAY_WEBHOOK_SECRETS", DEV_WEBHOOK_SECRET).split(",")[0].strip()
    gateway = stk.url("gateway")
    pids = stk.processes.pids() if stk.processes is not None else {}
    lines = [
        f"Webhook URL (paper account {DEFAULT_ACCOUNT_ID}): {gateway}/webhooks/tradingview/{secret}",
        "  TradingView only posts to ports 80/443 of a public host: put a reverse proxy or tunnel in front "
        "(at-gateway/README.md), keeping the path.",
        "Alert message (Pine strategy() alerts; indicator and bracket templates in README.md, 'TradingView'):",
        f"  {webhook_template()}",
        "Try it now:",
        f"  curl -s -X POST {gateway}/webhooks/tradingview/{secret} -H 'content-type: text/plain' "
        "-d '" + json.dumps(SAMPLE_ALERT) + "'",
    ]
    own_keys = all(f"{prefix}API_KEYS" in stk.extra_env for prefix in stack_mod.PREFIX.values())
    if secret == DEV_WEBHOOK_SECRET or not own_keys:
        lines.append(
            "WARNING: dev defaults (webhook secret, API keys dev-*-key): for paper trading on this machine only. "
            "Set AT_GATEWAY_WEBHOOK_SECRETS and AT_*_API_KEYS (in .env) before anything can reach it; "
            "environment=production refuses the defaults."
        )
    lines += [
        f"Console: {stk.url('obs', '/console/')} (key dev-operator-key)   decisions: {stk.url('agents', '/decisions')}",
        f"NATS admin (for at-replay): user admin, password in {stk.admin_password_file}",
        f"  e.g. at-replay run {stk.run_dir / 'audit.sqlite3'} --nats {stk.nats_url} --user admin "
        f"--password-file {stk.admin_password_file}",
        f"Logs: {stk.run_dir}/<process>.log   processes: "
        + ", ".join(f"{name} pid {pid}" for name, pid in pids.items()),
        "Supervised by pid: if any process exits, this stops the stack and says which and why.",
        "Ctrl-C stops everything.",
    ]
    return lines


SAMPLE_ALERT = {
    "ticker": "MES1!",
    "exchange": "CME_MINI",
    "close": "6012.25",
    "strategy": {"order": {"action": "buy", "contracts": "1"}},
}


def serve_banner(stk: stack_mod.Stack) -> None:
    for line in banner_lines(stk):
        console.print(line, soft_wrap=True, markup=False, style="bold yellow" if line.startswith("WARNING") else None)


if __name__ == "__main__":
    sys.exit(main())
