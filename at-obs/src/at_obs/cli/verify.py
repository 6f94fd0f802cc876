"""``at-audit-verify LOCATION``: exit 1 and list the problems when the audit chain is not intact,
or when it holds events that arrived on a subject they may not come from (flagged, listed).

LOCATION is an existing audit store: a SQLite path (`make up`'s is var/up/audit.sqlite3) or a
``postgresql://`` URL (``$AT_OBS_AUDIT_POSTGRES_URL`` style). Exit codes: 0 intact, 1 problems
found, 2 the store cannot be read (missing file, not an audit store, unknown option).
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from at_core.runtime.cli import CONTEXT_SETTINGS, run_app
from at_obs.adapters.audit_store import is_postgres_url, misrouted_in_store, open_audit_store, verify_store
from at_obs.errors import AuditStoreError

app = typer.Typer(add_completion=False, help=__doc__, context_settings=CONTEXT_SETTINGS, pretty_exceptions_enable=False)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"at-audit-verify: {message}", err=True)
    return typer.Exit(2)


@app.command()
def verify(
    location: str = typer.Argument(..., metavar="LOCATION", help="audit SQLite path or postgresql://... URL"),
) -> None:
    """Check the audit store's SHA-256 chain and every event's subject; never creates a store."""
    if not is_postgres_url(location):
        path = Path(location.removeprefix("sqlite:///").removeprefix("sqlite:"))
        if not path.is_file():
            raise _fail(f"no audit store at {path} (no such file); `make up` records to var/up/audit.sqlite3")
    try:
        store = open_audit_store(location)
    except AuditStoreError as exc:
        raise _fail(str(exc)) from None
    try:
        problems = verify_store(store)
        flagged = misrouted_in_store(store)
        for p in (*problems, *flagged):
            typer.echo(p)
        head = store.head()
        status = "chain intact" if not problems else f"{len(problems)} problems"
        if flagged:
            status += f", {len(flagged)} misrouted events flagged"
        typer.echo(f"{store.count()} records, head seq {head.seq} {head.hash}, {status}")
    except AuditStoreError as exc:
        raise _fail(f"{location} is not a readable audit store: {exc}") from None
    finally:
        store.close()
    if problems or flagged:
        raise typer.Exit(1)


def main(argv: list[str] | None = None) -> int:
    """Console script ``at-audit-verify``; returns the exit code (tests call it in-process)."""
    return run_app(app, argv)


if __name__ == "__main__":
    sys.exit(main())
