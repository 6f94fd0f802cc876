"""``at-replay``: replay a recording's inputs into a running stack over NATS, capture and verify outputs.

The services must run in replay mode (``AT_*_REPLAY_MODE=true``): their clocks follow the
events, so the same inputs give byte-identical outputs. Inputs are published in recorded
order, each only once the outputs of the one before have settled.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import time
from pathlib import Path

import nats
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from at_core import __version__ as core_version
from at_core import subjects
from at_core.errors import DecodeError
from at_core.events import Event
from at_core.serialization import decode_event, encode_event
from at_obs.domain.replay import (
    OUTPUT_TYPES,
    canonical_outputs,
    diff,
    html_report,
    output_hash,
    read_jsonl,
    split,
    summarize,
)

app = typer.Typer(add_completion=False, help=__doc__)
console = Console()


async def replay(
    inputs: list[Event], url: str, user: str | None, password: str | None, settle_s: float, timeout_s: float
) -> list[Event]:
    nc = await nats.connect(url, user=user, password=password, name="at-replay")
    js = nc.jetstream()
    captured: list[Event] = []
    last_seen = time.monotonic()
    correlations = {e.correlation_id for e in inputs}

    async def on(msg) -> None:
        nonlocal last_seen
        try:
            event = decode_event(msg.data)
        except DecodeError:
            return
        if event.event_type in OUTPUT_TYPES and event.correlation_id in correlations | {None}:
            captured.append(event)
            last_seen = time.monotonic()

    await nc.subscribe(subjects.ALL, cb=on)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("replaying", total=len(inputs))
        for event in inputs:
            await js.publish(subjects.subject_for(event), encode_event(event), headers={"Nats-Msg-Id": event.event_id})
            deadline = time.monotonic() + timeout_s
            await asyncio.sleep(settle_s)
            while time.monotonic() - last_seen < settle_s and time.monotonic() < deadline:  # noqa: ASYNC110 - quiet-period wait
                await asyncio.sleep(settle_s / 4)
            progress.advance(task)
    await nc.drain()
    return captured


def _git_version() -> str:
    try:
        return subprocess.run(
            ["git", "describe", "--always", "--dirty"],  # noqa: S607 - git from PATH
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except Exception:
        return "unknown"


@app.command()
def run(
    recording: Path = typer.Argument(..., exists=True, help="JSONL of canonical events (inputs and recorded outputs)"),
    nats_url: str = typer.Option("nats://127.0.0.1:4222", "--nats", help="NATS URL of a stack running in replay mode"),
    user: str = typer.Option(None, help="NATS user (the obs user may publish inputs)"),
    password: str = typer.Option(None, help="NATS password"),
    verify: bool = typer.Option(False, "--verify", help="Exit 1 on any difference from the recorded outputs"),
    report: Path = typer.Option(None, "--report", help="Write an HTML report here"),
    manifest_path: Path = typer.Option(None, "--manifest", help="Write the run manifest (JSON) here"),
    seed: int = typer.Option(0, help="Seed the services were started with (recorded in the manifest)"),
    config: list[Path] = typer.Option([], "--config", help="Config files whose hash goes in the manifest"),
    settle: float = typer.Option(0.3, help="Seconds without new output before the next input"),
    timeout: float = typer.Option(10.0, help="Most seconds to wait after one input"),
) -> None:
    """Replay RECORDING into a running stack and print a summary (trades, P&L, drawdown, breaches)."""
    events = read_jsonl(recording.read_text())
    inputs, recorded = split(events)
    replayed = asyncio.run(replay(inputs, nats_url, user, password, settle, timeout))
    digest = output_hash(replayed)
    profiles = sorted(
        {
            f"{e.profile_id}@{e.profile_version}"
            for e in replayed
            if getattr(e, "profile_id", None) and getattr(e, "profile_version", None)
        }
    )
    config_hash = hashlib.sha256(b"".join(p.read_bytes() for p in config)).hexdigest() if config else None
    manifest = {
        "recording": str(recording),
        "inputs": len(inputs),
        "outputs": len(canonical_outputs(replayed)),
        "seed": seed,
        "code_version": _git_version(),
        "at_core_version": core_version,
        "config_sha256": config_hash,
        "rule_profiles": profiles,
        "output_sha256": digest,
    }
    summary = summarize(replayed)
    table = Table(title="Replay summary")
    for col in ("account", "P&L", "max drawdown"):
        table.add_column(col)
    for account in summary.pnl:
        table.add_row(account, str(summary.pnl[account]), str(summary.max_drawdown[account]))
    console.print(table)
    console.print(f"trades: {summary.trades}; breaches: {', '.join(summary.breaches) or 'none'}")
    console.print(f"output sha256: {digest}")
    if manifest_path:
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    if report:
        report.write_text(html_report(summary, manifest))
        console.print(f"report: {report}")
    if verify:
        d = diff(recorded, replayed)
        if not d.empty:
            console.print(
                f"[red]DIFFERENT[/red]: {len(d.missing)} missing, {len(d.extra)} extra, {len(d.changed)} changed"
            )
            for label, ids in (("missing", d.missing), ("extra", d.extra), ("changed", d.changed)):
                for event_id in ids[:10]:
                    console.print(f"  {label}: {event_id}")
            raise typer.Exit(1)
        console.print(f"[green]identical[/green] to the recording ({output_hash(recorded)})")


def main() -> None:
    app()
