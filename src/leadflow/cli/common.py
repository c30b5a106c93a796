"""What every command shares: the global options' state, rendering, failing with a message, and
the options declared once (format, the six report filters).

Heavy libraries (SQLAlchemy's engine, the services with SciPy and scikit-learn) are imported inside
the commands that need them, so that `leadflow --help` and every `--help` start at once.
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from leadflow.errors import InvalidRequest, LeadflowError
from leadflow.settings import Settings, load_settings, settings_file

if TYPE_CHECKING:
    import polars as pl
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

console = Console()
errors = Console(stderr=True, soft_wrap=True)

FORMAT_HELP = "table, csv or json"
Format = Annotated[str, typer.Option("--format", help=FORMAT_HELP)]


class State:
    """What the global options chose."""

    db_url: str = ""
    config: Path | None = None
    actor: str = "cli"
    told: bool = False  # the note that leadflow.toml is not in force was printed

    def engine(self, *, schema: bool = True) -> Engine:
        """The chosen database; first (unless ``schema`` is False: the commands that create or
        upgrade it) a check that it has this leadflow's schema, so that a database not yet made
        with `leadflow init` gets a message saying so, not a traceback, and no empty file."""
        from sqlalchemy import make_url

        from leadflow.db import make_engine
        from leadflow.migrations.admin import current_revision, head_revision

        url = make_url(self.db_url)
        shown = url.render_as_string(hide_password=True)
        remedy = "create it with `leadflow init` (or `leadflow demo` for a sample company)"
        file = url.database if url.get_backend_name() == "sqlite" and url.database != ":memory:" else None
        if schema and file and not Path(file).exists():
            fail(f"there is no database at {file}: {remedy}")
        engine = make_engine(self.db_url)
        if schema:
            current, head = current_revision(engine), head_revision()
            if current is None:
                fail(f"{shown} has no leadflow schema yet: {remedy}")
            elif current != head:
                fail(
                    f"{shown} is at schema revision {current}; this leadflow needs {head}: "
                    "upgrade it with `leadflow init`"
                )
        return engine

    @contextmanager
    def session(self, *, write: bool = True) -> Iterator[Session]:
        """One transaction on the chosen database: committed at the end, rolled back on error;
        a writing one waits its turn behind other writers (see db.session_scope)."""
        from leadflow.db import session_scope

        with session_scope(self.engine(), write=write) as session:
            yield session

    def bootstrap(self) -> Settings:
        """leadflow.toml as chosen by --config or the environment; a bad file is a message."""
        with reported():
            return load_settings(self.config)
        raise AssertionError("unreachable: reported() exits on error")

    def settings(self) -> Settings:
        """The settings in force: the ledger's newest version once it keeps one, else leadflow.toml.
        A TOML file that differs from the ledger's is said, so that an edit to it is not believed
        to be in force."""
        from sqlalchemy import make_url
        from sqlalchemy.exc import SQLAlchemyError

        from leadflow.db import make_engine, session_scope
        from leadflow.ledger.settings_versions import current_version, settings_in_force

        bootstrap = self.bootstrap()
        url = make_url(self.db_url)
        if url.get_backend_name() == "sqlite" and (url.database in (None, "", ":memory:") or
                                                   not Path(url.database).exists()):  # fmt: skip
            return bootstrap
        engine = make_engine(self.db_url)
        try:
            with reported(), session_scope(engine, write=False) as session:
                version = current_version(session)
                if version is None:
                    return bootstrap
                in_force = settings_in_force(session, bootstrap=bootstrap)
                if settings_file(self.config) is not None and in_force != bootstrap and not self.told:
                    self.told = True
                    errors.print(
                        f"[yellow]note:[/yellow] the settings in force are the ledger's (version "
                        f"{version.id}, by {version.changed_by} on {version.changed_at:%Y-%m-%d %H:%M}), "
                        f"not {settings_file(self.config)}, which differs: `leadflow config import` "
                        "applies a file, `leadflow config export` writes the ledger's",
                        highlight=False,
                    )
                return in_force
        except SQLAlchemyError:
            return bootstrap  # no ledger there yet: the command itself says what is wrong
        finally:
            engine.dispose()
        raise AssertionError("unreachable: reported() exits on error")


state = State()


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error and exit with ``code``."""
    errors.print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    raise typer.Exit(code)


@contextmanager
def reported() -> Iterator[None]:
    """Turn a service's refusal (not found, not allowed, bad input or configuration) into a message;
    an option that names nothing there is (an unknown team, dimension) exits 2, as a usage error."""
    try:
        yield
    except InvalidRequest as exc:
        fail(str(exc), 2)
    except LeadflowError as exc:
        fail(str(exc))


def render(frame: pl.DataFrame, fmt: str, *, title: str | None = None, caption: str | None = None) -> None:
    """Print a frame as a Rich table (with ``caption`` under it), CSV or JSON."""
    if fmt == "csv":
        from leadflow.ledger.export import csv_text

        sys.stdout.write(csv_text(frame))
    elif fmt == "json":
        sys.stdout.write(json.dumps(frame.to_dicts(), default=str, indent=1) + "\n")
    elif fmt == "table":
        table = Table(title=title, caption=caption, show_lines=False)
        for column in frame.columns:
            table.add_column(column, overflow="fold")
        for row in frame.iter_rows():
            table.add_row(*["" if v is None else str(v) for v in row])
        console.print(table)
    else:
        fail(f"unknown format {fmt!r}; use {FORMAT_HELP}", 2)


def money_text(amount: pl.Expr) -> pl.Expr:
    """An amount as people read it in a terminal: 1,234,567, or – where there is none."""
    import polars as pl

    return amount.map_elements(
        lambda v: "–" if v is None else f"{v:,.0f}", return_dtype=pl.String, skip_nulls=False
    )


def when(value: str | None) -> datetime | None:
    """An ISO date or date-time option, or a message naming the value."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        fail(f"{value!r} is not a date/time like 2026-11-22 or 2026-11-22T14:30")


REPORT_FILTERS: dict[str, Any] = {
    "since": Annotated[datetime | None, typer.Option(help="Leads created on or after this date.")],
    "until": Annotated[datetime | None, typer.Option(help="Leads created before this date.")],
    "team": Annotated[str | None, typer.Option("--team", help="Only leads whose owner is in this team.")],
    "territory": Annotated[
        str | None,
        typer.Option("--territory", help="Only leads of this territory (the lead's, else its owner's)."),
    ],
    "source": Annotated[str | None, typer.Option("--source", help="Only leads from this source.")],
    "lead_type": Annotated[str | None, typer.Option("--lead-type", help="Only leads of this type.")],
}


def report_filters(*names: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a report command the report filter options (all six, or those named), declared here
    once; the command receives them as one ``filters`` argument, a ReportFilter."""
    chosen = names or tuple(REPORT_FILTERS)

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(command)
        own = [
            p.replace(annotation=eval(p.annotation, command.__globals__))
            if isinstance(p.annotation, str)
            else p
            for p in signature.parameters.values()
            if p.name != "filters"
        ]
        added = [
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=REPORT_FILTERS[name]
            )
            for name in chosen
        ]

        @functools.wraps(command)
        def with_filters(**kwargs: Any) -> None:
            from leadflow.analytics.query.filters import ReportFilter

            values = {name: kwargs.pop(name) for name in chosen}
            command(filters=ReportFilter(**values), **kwargs)

        parameters = added + [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]
        with_filters.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        with_filters.__annotations__ = {p.name: p.annotation for p in parameters}
        return with_filters

    return decorate
