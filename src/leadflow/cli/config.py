"""`leadflow config`: the settings kept in the ledger, to TOML and back, and their history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from leadflow.cli.common import console, fail, reported, state

config_app = typer.Typer(
    help="Settings kept in the ledger: export to TOML, import a TOML, see who changed what.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")


@config_app.command("export")
def export(
    file: Annotated[Path, typer.Argument(help="TOML file to write ('-' for the terminal).")],
    version: Annotated[
        int | None, typer.Option("--version", help="An older version (default: in force).")
    ] = None,
) -> None:
    """Write the settings in force (or one version) as TOML, only what differs from the defaults,
    so that they can be reviewed in git and imported elsewhere.

    Example: leadflow config export leadflow.toml
    """
    from leadflow.ledger.settings_versions import settings_version
    from leadflow.settings import settings_to_toml

    if version is None:
        settings = state.settings()
    else:
        with reported(), state.session(write=False) as session:
            settings = settings_version(session, version=version)
    with reported():
        text = settings_to_toml(settings)
    if str(file) == "-":
        typer.echo(text, nl=False)
        return
    file.write_text(text, encoding="utf-8")
    console.print(f"wrote {file} ({len(text.splitlines())} lines; every setting not in it has its default)")


@config_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="TOML file: the whole settings (what it omits: the default).")],
    note: Annotated[str | None, typer.Option("--note", help="Why, kept with the version.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change; keep nothing.")] = False,
) -> None:
    """Make a TOML file the settings in force, as a new version in the ledger with what changed.

    Example: leadflow --as ops@example.com config import leadflow.toml --note "EMEA split in two"
    """
    from leadflow.ledger.settings_versions import changed_settings, save_settings
    from leadflow.settings import settings_from_toml

    if not file.exists():
        fail(f"{file}: no such file")
    with reported():
        wanted = settings_from_toml(file.read_text(encoding="utf-8"), source=str(file))
    before = state.settings()
    changes = changed_settings(before, wanted)
    for path, (old, new) in changes.items():
        console.print(f"  {path}: {json.dumps(old)} -> {json.dumps(new)}", highlight=False, markup=False)
    if dry_run:
        console.print(f"dry run: {len(changes)} settings would change; nothing kept")
        return
    with reported(), state.session() as session:
        version = save_settings(
            session, settings=wanted, bootstrap=state.bootstrap(), by=state.actor, note=note
        )
        number = version.id if version else None
    if number is None:
        console.print("nothing changed: these are the settings in force")
    else:
        console.print(f"settings version {number} in force ({len(changes)} settings changed)")


@config_app.command("history")
def history(
    limit: Annotated[int, typer.Option("--limit", help="How many versions, newest first.")] = 20,
) -> None:
    """Each version of the settings: who, when, why and what changed (before -> after).

    Example: leadflow config history --limit 5
    """
    from leadflow.ledger.settings_versions import settings_history

    with reported(), state.session(write=False) as session:
        versions = settings_history(session, limit=limit)
        if not versions:
            console.print("the ledger keeps no settings yet: leadflow.toml (or the defaults) is in force")
            return
        for v in versions:
            why = f" ({v.note})" if v.note else ""
            console.print(
                f"[bold]version {v.id}[/bold] by {v.changed_by} on {v.changed_at:%Y-%m-%d %H:%M}{why}"
            )
            for path, (old, new) in v.changes.items():
                console.print(
                    f"  {path}: {json.dumps(old)} -> {json.dumps(new)}", highlight=False, markup=False
                )
