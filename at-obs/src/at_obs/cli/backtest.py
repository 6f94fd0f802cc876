"""``at-backtest``: run a TradingView export through the live agents, risk engine and simulated venue; judge a prop challenge and its odds.

BARS is a chart-data export (or any OHLCV CSV / Parquet), TRADES the Strategy Tester's "List
of trades" export, or --alerts a recorded alert log (the audit trail, or a JSONL recording):
its signals on the symbol are sent again at their times; or --signals agents:KIND:... makes the
signals from the bars with the agents' bar strategy (at-core's code; no signal file). Every trade becomes a
TradingView-shaped alert at its bar's time, every bar market data, and both run through at-agents and at-exec-sim in replay mode on a private
nats-server. The fills become a trade list, the trade list a day-by-day challenge verdict and a
bootstrap Monte Carlo of its odds. Exit codes: 0 done, 2 bad input or the stack failed.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from datetime import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from at_core.catalog import InstrumentCatalog
from at_core.errors import AtCoreError
from at_core.events import SignalEvent
from at_core.models.enums import IngestSource
from at_core.serialization import stream_sha256
from at_core.symbols import normalize_ticker
from at_obs.adapters.recordings import load_audit, load_jsonl, source_kind
from at_obs.backtest.agent_signals import AgentSignals, parse_signal_source, with_agent_signals
from at_obs.backtest.bars import load_bars
from at_obs.backtest.challenge import ChallengeRules, DayState, cents, run_challenge
from at_obs.backtest.daily import by_day
from at_obs.backtest.errors import BacktestError
from at_obs.backtest.montecarlo import Odds, monte_carlo
from at_obs.backtest.pipeline import StackRun, run_through_stack
from at_obs.backtest.recording import Target, build_inputs, recorded_alerts
from at_obs.backtest.report import to_html, to_json
from at_obs.backtest.result import build_report, llm_dependence, profile_entry
from at_obs.backtest.sessions import NONE, calendar_name, screen
from at_obs.backtest.stack import StackSettings
from at_obs.backtest.trades import CENT, trade_list
from at_obs.backtest.tv_trades import TradeList, load_tv_trades
from at_obs.domain.replay import write_jsonl
from at_obs.errors import RecordingError

app = typer.Typer(
    add_completion=False, help=__doc__, no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]}
)
console = Console(highlight=False)
COLUMNS = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]at-backtest[/red]: {escape(message)}", soft_wrap=True)
    return typer.Exit(2)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail(f"unknown time zone {name!r} (an IANA name such as America/New_York)") from None


def _rules(rules_file: Path | None, profile: Path | None, overrides: dict[str, Any]) -> ChallengeRules:
    base = None
    if profile is not None:
        data = _yaml(profile)
        target = overrides.get("profit_target")
        if target is None:
            raise _fail("--profile needs --profit-target (exec-sim profiles hold no target)")
        base = ChallengeRules.from_exec_sim_profile(data, Decimal(str(target)))
    mapping = dict(_yaml(rules_file)) if rules_file is not None else {}
    mapping.update({k: v for k, v in overrides.items() if v is not None})
    return ChallengeRules.from_mapping(mapping, base)


def _yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _fail(f"{path}: {exc.strerror or exc}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise _fail(f"{path}: not YAML: {exc}") from None
    if not isinstance(data, dict):
        raise _fail(f"{path}: expected a mapping of rules")
    return data


def _settings(seed: int, fee: str | None, slippage: str | None, committees: Path | None, accounts: Path | None,
              extra: list[str], ready_timeout_s: float = 60.0) -> StackSettings:  # fmt: skip
    env: dict[str, str] = {}
    if fee is not None:
        env["AT_EXEC_SIM_FEE_PER_CONTRACT"] = fee
    if slippage is not None:
        env["AT_EXEC_SIM_SLIPPAGE_TICKS"] = slippage
    for path, key in ((committees, "AT_AGENTS_COMMITTEES_FILE"), (accounts, "AT_EXEC_SIM_ACCOUNTS_FILE")):
        if path is not None:
            if not path.is_file():
                raise _fail(f"{path}: no such file")
            env[key] = str(path.resolve())
    for item in extra:
        key, eq, value = item.partition("=")
        if not eq:
            raise _fail(f"--set {item!r}: expected KEY=VALUE")
        env[key.strip()] = value
    return StackSettings(seed=seed, env=env, ready_timeout_s=ready_timeout_s)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _summary(report: dict[str, Any]) -> None:
    t = report["totals"]
    table = Table(title="Backtest")
    for col in ("trades", "wins", "losses", "gross P&L", "fees", "slippage", "net P&L"):
        table.add_column(col, justify="right")
    table.add_row(*(str(t[k]) for k in ("trades", "wins", "losses", "gross_pnl", "fees", "slippage", "net_pnl")))
    console.print(table)
    v = report["verdict"]
    console.print(f"verdict: [bold]{v['status']}[/bold]" + (f" on day {v['day']} ({v['date']})" if v["date"] else ""))
    odds = report.get("odds")
    if odds:
        p = odds["passed"]
        console.print(
            f"odds of passing: {p['probability']:.1%} (95% CI {p['ci95'][0]:.1%} - {p['ci95'][1]:.1%}, "
            f"{odds['runs']:,} runs); days to pass: median {odds['days_to_pass']['median']}"
        )
        for rule, q in odds["failed"].items():
            console.print(f"  failed by {rule}: {q['probability']:.1%} ({q['ci95'][0]:.1%} - {q['ci95'][1]:.1%})")
    for p in report["profiles"][1:] if len(report["profiles"]) > 1 else ():
        v, passed = p["verdict"], p["passed"]
        odds_text = f", odds of passing {passed['probability']:.1%}" if passed else ""
        day_text = f" on day {v['day']} ({v['date']})" if v["date"] else ""
        console.print(f"{p['name']}: [bold]{v['status']}[/bold]{day_text}{odds_text}")
    i = report["inputs"]
    if i["bars_outside_session"] or i["bars_on_holidays"] or i["trades_outside_session"] or i["alerts_outside_session"]:
        holidays = f" ({', '.join(i['holidays'])})" if i["holidays"] else ""
        console.print(
            f"calendar {i['calendar']}: {i['bars_outside_session']} bar(s) outside its sessions and "
            f"{i['bars_on_holidays']} on holidays{holidays} not traded; "
            f"{len(i['trades_outside_session'])} trade(s) and {i['alerts_outside_session']} alert(s) left out with them"
        )
    console.print(f"output sha256: {report['run']['output_sha256']}")
    for warning in report["run"]["warnings"]:
        console.print(f"[yellow]warning[/yellow]: {warning}", soft_wrap=True)


@app.command()
def run(
    bars_path: Path = typer.Argument(..., metavar="BARS", help="Chart-data export / OHLCV CSV / Parquet"),
    trades_path: Path = typer.Argument(None, metavar="[TRADES]", help="Strategy Tester 'List of trades' CSV"),
    alerts: str = typer.Option(
        None, help="Recorded alerts: an audit store (SQLite file, postgresql://...) or a JSONL recording"
    ),
    signals: str = typer.Option(
        None,
        "--signals",
        help="Signals from at-agents' bar strategies instead of (or besides) TRADES, e.g. "
        "agents:ma_cross:fast=10,slow=30 or agents:breakout:lookback=20 (qty=N, long_only=1)",
    ),
    symbol: str = typer.Option(..., "--symbol", help="TradingView ticker of the chart, e.g. CME_MINI:MES1!"),
    tz: str = typer.Option("UTC", "--tz", help="The chart's time zone (the trade list's times are in it)"),
    account: str = typer.Option("topstep-50k-1", help="exec-sim account (its rule profile applies)"),
    strategy: str = typer.Option("backtest", help="Strategy id the alerts carry (selects the committee)"),
    seed: int = typer.Option(7, help="Seed of the services (AT_*_SEED)"),
    fee_per_contract: str = typer.Option(None, help="exec-sim fee per contract per side (default: exec-sim's)"),
    slippage_ticks: str = typer.Option(None, help="exec-sim slippage in ticks per fill (default: none)"),
    committees: Path = typer.Option(None, help="Agents committees YAML (default: the shipped committee)"),
    llm_cache: Path = typer.Option(
        None, help="Recorded LLM exchanges the LLM agents answer from (none: every LLM agent abstains)"
    ),
    accounts: Path = typer.Option(None, help="exec-sim accounts YAML (default: the shipped accounts)"),
    set_: list[str] = typer.Option([], "--set", help="Extra service setting KEY=VALUE (AT_AGENTS_* / AT_EXEC_SIM_*)"),
    rules_file: Path = typer.Option(None, "--rules", help="Challenge rules YAML (see docs/BACKTEST.md)"),
    profile: Path = typer.Option(
        None, help="Read balance, daily loss, trailing drawdown from an exec-sim profile YAML"
    ),
    compare: list[Path] = typer.Option(
        [], help="Another challenge's rules YAML, judged on the same trades side by side (repeatable)"
    ),
    starting_balance: str = typer.Option(None, help="Challenge starting balance"),
    profit_target: str = typer.Option(None, help="Challenge profit target"),
    daily_loss_limit: str = typer.Option(None, help="Challenge daily loss limit"),
    trailing_drawdown: str = typer.Option(None, help="Challenge trailing drawdown (end of day)"),
    trailing_lock_offset: str = typer.Option(None, help="The floor stops trailing at start + this"),
    daily_loss_soft: bool = typer.Option(
        None, "--daily-loss-soft/--daily-loss-hard", help="A daily-loss day halts the day only (Topstep) or fails"
    ),
    min_days: int = typer.Option(None, help="Minimum trading days"),
    max_days: int = typer.Option(None, help="Maximum trading days"),
    calendar: str = typer.Option(
        None,
        help="Trading calendar bars and signals are screened against (at_core.markets.calendars; "
        "default: the instrument's, e.g. CME_Equity for MES; 'none': every bar trades)",
    ),
    day_tz: str = typer.Option("America/Chicago", help="Time zone of the trading day's roll"),
    day_roll: str = typer.Option("17:00", help="Local time the trading day rolls (HH:MM)"),
    runs: int = typer.Option(10_000, min=0, help="Monte Carlo runs (0: none)"),
    mc_method: str = typer.Option("daily", help="Bootstrap 'daily' P&L or 'trades'"),
    mc_seed: int = typer.Option(1, help="Monte Carlo RNG seed"),
    timeout: float = typer.Option(30.0, min=0.1, help="Most seconds the stack may take for one input"),
    ready_timeout: float = typer.Option(60.0, min=1.0, help="Most seconds the services may take to start"),
    report_path: Path = typer.Option(None, "--report", help="Write the HTML report here"),
    json_path: Path = typer.Option(None, "--json", help="Write the JSON report here"),
    recording: Path = typer.Option(None, help="Write inputs and outputs (JSONL, at-replay can replay it) here"),
) -> None:
    """Backtest BARS with TRADES through the live stack and print the verdict and the odds."""
    if trades_path is None and alerts is None and signals is None:
        raise _fail(
            "give TRADES (a List of trades export), --alerts (a recorded alert log), --signals agents:..., or several"
        )
    if mc_method not in ("daily", "trades"):
        raise _fail(f"--mc-method {mc_method!r}: expected daily or trades")
    zone, day_zone = _zone(tz), _zone(day_tz)
    try:
        roll = time.fromisoformat(day_roll)
    except ValueError:
        raise _fail(f"--day-roll {day_roll!r}: expected HH:MM") from None
    overrides = {
        "starting_balance": starting_balance, "profit_target": profit_target, "daily_loss_limit": daily_loss_limit,
        "trailing_drawdown": trailing_drawdown, "trailing_lock_offset": trailing_lock_offset,
        "min_days": min_days, "max_days": max_days, "daily_loss_soft": daily_loss_soft,
    }  # fmt: skip
    try:
        agent_signals = parse_signal_source(signals) if signals is not None else None
        rules = _rules(rules_file, profile, overrides)
        bars = load_bars(bars_path, zone)
        listed = load_tv_trades(trades_path, zone) if trades_path is not None else TradeList((), 0)
        ref = normalize_ticker(symbol)
        replayed = _alerts(alerts, ref.instrument_id) if alerts is not None else ()
        instrument = InstrumentCatalog().get(ref.instrument_id)
        multiplier = instrument.multiplier
        cal = None if calendar == NONE else calendar or calendar_name(instrument)
        screened = screen(bars, cal, day_zone, roll)
        if not screened.bars.bars:
            raise _fail(f"no bar of {bars_path.name} is in a {cal} session (--calendar none trades every bar)")
        if llm_cache is not None:
            if not llm_cache.is_dir():
                raise _fail(f"--llm-cache {llm_cache}: no such directory")
            set_ = [f"AT_AGENTS_LLM_CACHE_DIR={llm_cache.resolve()}", *set_]
        settings = _settings(seed, fee_per_contract, slippage_ticks, committees, accounts, set_, ready_timeout)
        others = [(path.stem, ChallengeRules.from_mapping(_yaml(path))) for path in compare]
    except (BacktestError, AtCoreError, InvalidOperation, RecordingError) as exc:
        raise _fail(str(exc)) from None
    traded = tuple(t for t in listed.trades if screened.tradable(t.entry_ns) and screened.tradable(t.exit_ns))
    alerts_kept = tuple(a for a in replayed if screened.tradable(a.ts_event))
    target = Target(ref, symbol, account, strategy)
    inputs = build_inputs(screened.bars, traded, target, alerts_kept)
    if agent_signals is not None:
        inputs = with_agent_signals(inputs, agent_signals, target, bars.interval)
    stack_run = _run_stack(inputs, settings, timeout)
    closed = trade_list(inputs + stack_run.outputs, multiplier)
    days = by_day(closed, day_zone, roll)
    trace: list[DayState] = []
    outcome = run_challenge([d.pnl for d in days], rules, trace)
    odds = _odds(rules, closed, days, runs, mc_method, mc_seed)
    profiles = [profile_entry(rules_file.stem if rules_file else "rules", rules, days, outcome, odds)] if others else []
    for name, other in others:
        other_odds = _odds(other, closed, days, runs, mc_method, mc_seed)
        profiles.append(profile_entry(name, other, days, run_challenge([d.pnl for d in days], other), other_odds))
    report = build_report(
        inputs={
            "bars_file": bars_path.name, "bars_sha256": _sha256(bars_path), "bars": len(bars.bars),
            "interval": bars.interval,
            "trades_file": trades_path.name if trades_path else None,
            "trades_sha256": _sha256(trades_path) if trades_path else None,
            "recorded_alerts": len(replayed), "agent_signals": signals,
            **screened.report(listed.trades, traded, len(replayed) - len(alerts_kept)),
            "agent_signals_generated": _generated(inputs, agent_signals), "alerts_source": Path(alerts).name if alerts else None,
            "tradingview_trades": len(listed.trades), "open_trades_left_out": listed.open_trades,
            "instrument_id": ref.instrument_id, "ticker": symbol, "account_id": account, "strategy_id": strategy,
            "tradingview_net_pnl": str(sum((t.reported_pnl or Decimal(0) for t in listed.trades), Decimal(0)).quantize(CENT)),
        },
        run={
            "seed": seed, "service_settings": dict(sorted(settings.env.items())), "inputs": len(inputs),
            "inputs_sha256": stream_sha256(inputs), "outputs": len(stack_run.outputs),
            "output_sha256": stack_run.output_sha256, "warnings": stack_run.warnings,
        },
        trades=closed, days=days, rules=rules, trace=trace, outcome=outcome, odds=odds, profiles=profiles,
        llm=llm_dependence(inputs + stack_run.outputs, closed),
    )  # fmt: skip
    if json_path:
        json_path.write_text(to_json(report))
    if report_path:
        report_path.write_text(to_html(report))
    if recording:
        recording.write_text(write_jsonl(inputs + stack_run.outputs))
    _summary(report)
    if not closed:
        console.print("[yellow]no trade closed through the stack: see the denials in --recording[/yellow]")


def _alerts(source: str, instrument_id: str) -> tuple[Any, ...]:
    """The recorded signals on the backtest's instrument, from an audit store or a JSONL recording."""
    events = load_audit(source) if source_kind(source) == "audit" else load_jsonl(source)
    found = recorded_alerts(events, instrument_id)
    if not found:
        raise RecordingError(source, f"no signal on {instrument_id} in it")
    return found


def _generated(inputs: list[Any], agent_signals: AgentSignals | None) -> int | None:
    """How many signals the agents' bar strategy generated (None: no bar strategy ran)."""
    if agent_signals is None:
        return None
    return sum(1 for e in inputs if isinstance(e, SignalEvent) and e.origin is IngestSource.AGENT)


def _run_stack(inputs: list[Any], settings: StackSettings, timeout: float) -> StackRun:
    try:
        with Progress(*COLUMNS, console=console, transient=True) as progress:
            task = progress.add_task("through the stack", total=len(inputs))
            return asyncio.run(
                run_through_stack(
                    inputs,
                    settings,
                    timeout_s=timeout,
                    progress=lambda: progress.advance(task),
                )
            )
    except BacktestError as exc:
        raise _fail(str(exc)) from None
    except Exception as exc:  # nats raises several unrelated types; the trader needs the message
        raise _fail(f"the stack failed: {exc!r}") from None


def _odds(rules: ChallengeRules, closed: list[Any], days: list[Any], runs: int, method: str, seed: int) -> Odds | None:
    if runs == 0 or not days:
        return None
    with Progress(*COLUMNS, console=console, transient=True) as progress:
        task = progress.add_task("monte carlo", total=runs)
        return monte_carlo(
            rules, random.Random(seed), runs=runs, seed=seed,
            daily_pnl=[d.pnl for d in days], trade_pnl=[cents(t.net_pnl) for t in closed],
            trades_per_day=[d.trades for d in days], method=method,  # type: ignore[arg-type]
            progress=lambda done: progress.update(task, completed=done),
        )  # fmt: skip


def main() -> None:
    app()


if __name__ == "__main__":
    main()
