"""``at-replay``: replay a recording's inputs into a running stack over NATS, capture and verify outputs.

The services must run in replay mode (``AT_*_REPLAY_MODE=true``, same ``AT_*_SEED``): their
clocks follow the events, so the same inputs give byte-identical outputs. Exit codes: 0 done
(identical, with ``--verify``), 1 outputs differ from the recording, 2 the recording or the
stack could not be read.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from at_core.events import Event
from at_obs.adapters.manifest import build_manifest
from at_obs.adapters.recordings import load_audit, load_jetstream, load_jsonl, source_kind
from at_obs.adapters.replay_driver import ReplayDriver
from at_obs.domain.replay import Difference, Summary, diff, expected_per_root, split, summarize, write_jsonl
from at_obs.domain.report import html_report
from at_obs.errors import ObsError, RecordingError

app = typer.Typer(add_completion=False, help=__doc__, no_args_is_help=True)
console = Console(highlight=False)


def _load(
    source: str, source_nats: str | None, correlation_id: str | None, user: str | None, password: str | None
) -> list[Event]:
    kind = source_kind(source)
    if kind == "audit":
        return load_audit(source, correlation_id)
    if kind == "jsonl":
        events = load_jsonl(source)
    elif not source_nats:
        raise typer.BadParameter("a jetstream: recording needs --source-nats (the server that holds it)")
    else:
        events = asyncio.run(load_jetstream(source, source_nats, user, password))
    if correlation_id:
        events = [e for e in events if e.correlation_id == correlation_id]
        if not events:
            raise RecordingError(source, f"no events with correlation id {correlation_id}")
    return events


def _print_summary(summary: Summary, digest: str) -> None:
    table = Table(title="Replay summary")
    for col in ("account", "P&L", "max drawdown"):
        table.add_column(col)
    for account in summary.pnl:
        table.add_row(account, str(summary.pnl[account]), str(summary.max_drawdown[account]))
    console.print(table)
    console.print(f"trades: {summary.trades}; rule breaches: {', '.join(summary.breaches) or 'none'}")
    console.print(f"denials: {', '.join(f'{k} x{v}' for k, v in summary.denials.items()) or 'none'}")
    console.print(f"output sha256: {digest}")


WALL_CLOCK_HINT = (
    "Every changed output differs in its timestamps: the recording's services ran on the wall clock "
    "(`make up` without replay mode), so its outputs carry the time they were made, which no replay "
    "reproduces. To record a session --verify can check, run the stack with AT_AGENTS_REPLAY_MODE=true "
    "AT_EXEC_SIM_REPLAY_MODE=true (and the same AT_*_SEED) and replay into a fresh stack started the same "
    "way (README, 'Replay a session'). The summary above is still this session's."
)


def hint_for(differences: list[Difference]) -> str | None:
    """What to do about these differences, when their pattern says why (a wall-clock recording)."""
    changed = [d for d in differences if d.kind == "changed"]
    if changed and all(any(f.startswith("ts_") for f in d.fields) for d in changed):
        return WALL_CLOCK_HINT
    return None


def _print_differences(differences: list[Difference], limit: int = 25) -> None:
    console.print(f"[red]DIFFERENT[/red]: {len(differences)} outputs differ from the recording")
    for d in differences[:limit]:
        console.print(f"  {d.describe()}", soft_wrap=True)  # one line per difference, whatever the width
    if len(differences) > limit:
        console.print(f"  ... and {len(differences) - limit} more")
    hint = hint_for(differences)
    if hint:
        console.print(f"[yellow]why[/yellow]: {hint}", soft_wrap=True)


@app.command()
def run(
    source: str = typer.Argument(
        ..., help="session.jsonl | audit SQLite path | postgresql://... | jetstream:[STREAMS]"
    ),
    nats_url: str = typer.Option("nats://127.0.0.1:4222", "--nats", help="NATS of the stack running in replay mode"),
    source_nats: str = typer.Option(None, "--source-nats", help="NATS that holds a jetstream: recording"),
    correlation_id: str = typer.Option(None, "--correlation-id", help="Replay one alert only (audit recordings)"),
    user: str = typer.Option(None, envvar="AT_REPLAY_NATS_USER", help="NATS user allowed to publish inputs"),
    password: str = typer.Option(None, envvar="AT_REPLAY_NATS_PASSWORD", help="NATS password"),
    password_file: Path = typer.Option(
        None, "--password-file", help="File holding the NATS password (`make up`: var/up/admin.password, user admin)"
    ),
    verify: bool = typer.Option(False, "--verify", help="Exit 1 on any difference from the recorded outputs"),
    report: Path = typer.Option(None, "--report", help="Write an HTML report (equity curve, drawdown) here"),
    manifest_path: Path = typer.Option(None, "--manifest", help="Write the run manifest (JSON) here"),
    capture: Path = typer.Option(None, "--capture", help="Write the replayed outputs (JSONL) here"),
    seed: int = typer.Option(0, help="Seed the services were started with (recorded in the manifest)"),
    config: list[Path] = typer.Option([], "--config", exists=True, help="Config files whose hash goes in the manifest"),
    settle: float = typer.Option(0.3, min=0.0, help="Seconds without new output before the next input"),
    timeout: float = typer.Option(10.0, min=0.1, help="Most seconds to wait after one input"),
    quiesce: bool = typer.Option(
        True, help="After each input, wait until every durable consumer has handled everything (JetStream API)"
    ),
) -> None:
    """Replay SOURCE into a running stack and print a summary (trades, P&L, drawdown, breaches)."""
    if password_file is not None:
        if not password_file.is_file():
            console.print(f"[red]no password file at {password_file}[/red] (`make up` prints where it is)")
            raise typer.Exit(2)
        password = password_file.read_text().strip()
        user = user or "admin"
    try:
        events = _load(source, source_nats, correlation_id, user, password)
    except ObsError as exc:
        console.print(f"[red]cannot read the recording[/red]: {exc}", soft_wrap=True)
        raise typer.Exit(2) from exc
    inputs, recorded = split(events)
    if not inputs:
        console.print("[red]the recording holds no inputs (signals, market data, execution requests)[/red]")
        raise typer.Exit(2)
    driver = ReplayDriver(nats_url, user, password, quiesce=quiesce)
    columns = (TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("replay", total=len(inputs))
            replayed = asyncio.run(
                driver.run(
                    inputs,
                    expected_per_root(recorded),
                    settle_s=settle,
                    timeout_s=timeout,
                    progress=lambda: progress.advance(task),
                )
            )
    except ObsError as exc:
        console.print(f"[red]cannot replay[/red]: {exc}", soft_wrap=True)
        raise typer.Exit(2) from exc
    except Exception as exc:  # nats raises several unrelated types; the operator needs the message
        console.print(f"[red]replay into {nats_url} failed[/red]: {exc!r}", soft_wrap=True)
        raise typer.Exit(2) from exc
    if driver.duplicates:
        console.print(
            f"[yellow]{len(driver.duplicates)} of {len(inputs)} inputs were already in this stack's streams[/yellow]: "
            "JetStream de-duplicated them by event id (the gateway published them when they came in), so they "
            "reached no service and caused no output; their recorded outputs show as missing. To reproduce a "
            "session, replay it into a fresh stack started in replay mode (README, 'Replay a session').",
            soft_wrap=True,
        )
    if driver.quiesce_error:
        console.print(f"[yellow]no consumer state ({driver.quiesce_error}): waited --settle only[/yellow]")
    for root, busy in driver.still_busy.items():
        console.print(f"[yellow]still busy --timeout after input {root}[/yellow]: {', '.join(busy)}", soft_wrap=True)
    manifest = build_manifest(source, inputs, replayed, seed=seed, config_files=config)
    summary = summarize(replayed)
    _print_summary(summary, manifest["output_sha256"])
    differences = diff(recorded, replayed) if verify else None
    if differences is not None:
        manifest["verify"] = {"recorded_outputs": len(recorded), "differences": len(differences)}
    if manifest_path:
        manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    if capture:
        capture.write_text(write_jsonl(replayed))
    if report:
        report.write_text(html_report(summary, manifest, differences))
        console.print(f"report: {report}")
    if differences:
        _print_differences(differences)
        raise typer.Exit(1)
    if differences is not None:
        console.print(f"[green]identical[/green]: {len(recorded)} recorded outputs reproduced byte for byte")


@app.command("diff")
def diff_command(
    recorded: Path = typer.Argument(..., exists=True, help="JSONL holding the recorded outputs"),
    replayed: Path = typer.Argument(..., exists=True, help="JSONL holding the outputs to compare (--capture)"),
) -> None:
    """Compare two recordings' outputs offline, matched by causal lineage; exit 1 when they differ."""
    try:
        before, after = load_jsonl(str(recorded)), load_jsonl(str(replayed))
    except ObsError as exc:
        console.print(f"[red]cannot read[/red]: {exc}", soft_wrap=True)
        raise typer.Exit(2) from exc
    if not split(before)[1]:
        console.print(f"[red]{recorded} holds no outputs[/red]: nothing to compare", soft_wrap=True)
        raise typer.Exit(2)
    differences = diff(before, after)
    if differences:
        _print_differences(differences)
        raise typer.Exit(1)
    console.print("[green]identical[/green]")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
