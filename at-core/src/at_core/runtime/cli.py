"""The command line of every console script, one library (typer); a service's is ``at-<service> [run]``.

``service_cli(...)`` gives a typer app whose default command (no command given) and ``run``
command start the service; a service adds its own commands to it (``at-exec-sim check-config``).
Unknown options are refused (exit 2, typer's usage error); a setting that does not validate is
one line naming it (exit 2), never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import typer
from pydantic import ValidationError

#: Options every command line of the platform knows.
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


def run_app(app: typer.Typer, argv: Sequence[str] | None = None) -> int:
    """Run a typer app and return its exit code instead of exiting (console scripts and tests).

    A usage error (unknown option, missing argument) is printed as click prints it: exit 2.
    """
    try:
        result = app(args=list(argv) if argv is not None else None, standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        print("Aborted.", file=sys.stderr)
        return 1
    except Exception as exc:  # a usage error: click's ClickException (vendored by recent typer)
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            return code
        raise
    return int(result) if isinstance(result, int) else 0


def settings_error(command: str, exc: ValidationError) -> str:
    """One line per refused setting: the variable, the value's problem (no secret values)."""
    count = exc.error_count()
    lines = [f"{command}: the settings do not validate ({count} error{'s' if count != 1 else ''}); nothing started:"]
    for err in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in err["loc"]) or "(settings)"
        lines.append(f"  {field}: {err['msg']}")
    return "\n".join(lines)


def service_cli(command: str, help_text: str, env_prefix: str, serve: Callable[[], None]) -> typer.Typer:
    """The typer app of the console script ``command``; ``serve()`` reads the settings and runs uvicorn."""
    epilog = (
        f"Settings: {env_prefix}* environment variables or a .env file in the working directory "
        "(the environment wins); every setting, with its default, is in the repository's .env.example."
    )
    app = typer.Typer(
        name=command,
        help=help_text,
        epilog=epilog,
        add_completion=False,
        context_settings=CONTEXT_SETTINGS,
        pretty_exceptions_enable=False,
    )

    def start() -> None:
        try:
            serve()
        except ValidationError as exc:
            print(settings_error(command, exc), file=sys.stderr)
            raise typer.Exit(2) from None

    @app.callback(invoke_without_command=True)
    def default(ctx: typer.Context) -> None:
        """Without a command: run the service (as ``run``)."""
        if ctx.invoked_subcommand is None:
            start()

    @app.command("run", epilog=epilog)
    def run() -> None:
        """Run the service (the default command): HTTP on its host and port, NATS consumers."""
        start()

    return app


def add_check_config(
    app: typer.Typer, command: str, check: Callable[[], list[str]], what: str, refusals: tuple[type[Exception], ...]
) -> None:
    """Add ``<command> check-config`` to ``app``: ``check()`` builds the settings and validates the
    service's files without starting (one line per item); exit 0 if usable, 2 with the reason if not.

    Args:
        what: what the lines count, for the last line (``ok: 5 accounts``).
        refusals: the service's own configuration errors (a settings ValidationError always counts).
    """

    @app.command("check-config")
    def check_config() -> None:
        """Validate the settings and the service's files without starting; exit 0 if usable, 2 if not."""
        try:
            lines: list[Any] = check()
        except ValidationError as exc:
            print(settings_error(f"{command} check-config", exc), file=sys.stderr)
            raise typer.Exit(2) from None
        except refusals as exc:
            print(f"{command}: configuration refused: {exc}", file=sys.stderr)
            raise typer.Exit(2) from None
        print("\n".join([*lines, f"ok: {len(lines)} {what}"]))
