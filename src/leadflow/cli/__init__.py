"""The leadflow command line: thin commands that parse, call one service, and render.

One module per command group; this one makes the app, takes the global options and registers the
groups. Example: leadflow --db sqlite:///crm.db leads list --stage won --format csv
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leadflow.cli import admin, coaching, config, imports, leads, reports, score, simulate, work
from leadflow.cli.common import errors, state
from leadflow.settings import ConfigError, database_url

app = typer.Typer(
    help="leadflow: capture, score, route, work and measure B2B sales leads.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    db: Annotated[str | None, typer.Option("--db", help="Database URL (else LEADFLOW_DATABASE_URL).")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="Path of leadflow.toml.")] = None,
    actor: Annotated[str, typer.Option("--as", help="Who is acting, for history rows.")] = "cli",
) -> None:
    """leadflow: capture, score, route, work and measure B2B sales leads.

    Example: leadflow --db sqlite:///crm.db leads list --stage won --format csv
    """
    state.db_url = database_url(db)
    state.config = config
    state.actor = actor
    state.told = False


for module in (leads, imports, score, work, reports, coaching, simulate, admin, config):
    module.register(app)


def run() -> None:
    """Entry point that turns configuration errors into messages."""
    try:
        app()
    except ConfigError as exc:
        errors.print(f"error: {exc}", markup=False)
        raise SystemExit(1) from exc
