"""``at-alertmanager-config``: write alertmanager.yml from the AT_OBS_ALERTMANAGER_* settings."""

from __future__ import annotations

from pathlib import Path

import typer

from at_obs.console_settings import ConsoleSettings
from at_obs.domain.alertmanager_config import render_alertmanager_config

app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def write(out: Path = typer.Option(..., "--out", help="Where to write alertmanager.yml")) -> None:
    """Render the config with the receivers in settings and write it."""
    s = ConsoleSettings()
    text = render_alertmanager_config(s.alertmanager_webhook_urls, s.alertmanager_critical_webhook_urls)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    typer.echo(f"wrote {out}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
