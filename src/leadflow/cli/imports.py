"""`leadflow <kind> import FILE`: CSV imports of leads, reps, sources, activities, companies and
products, with a progress bar, a summary and a reject report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from leadflow.cli.common import console, errors, fail, reported, state

if TYPE_CHECKING:
    from leadflow.intake.columns import Kind
    from leadflow.intake.service import ImportSummary


def run_import(kind: Kind, files: list[tuple[Kind, Path, Any]], rejects_path: Path | None) -> None:
    """Import each file in batches (one transaction each) behind a progress bar, then print the
    summary and write every reject to the reject report."""
    from leadflow.db import session_scope
    from leadflow.intake.rejects import write_report
    from leadflow.intake.service import bulk_mode, import_batch, open_import

    engine = state.engine()
    settings = state.settings()
    summaries: list[ImportSummary] = []
    for file_kind, path, mapping in files:
        with reported(), session_scope(engine, write=True) as session:
            job = open_import(session, kind=file_kind, path=path, mapping=mapping, settings=settings)
        with Progress(
            TextColumn(f"{file_kind:<10} {path.name}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=errors,
            transient=False,
            disable=not errors.is_terminal,
        ) as progress:
            task = progress.add_task("import", total=job.reader.size)
            with bulk_mode(engine, job=job):
                for batch in job.batches():
                    with session_scope(engine, write=True) as session:
                        import_batch(session, job=job, batch=batch)
                    progress.update(task, completed=job.reader.position)
            progress.update(task, completed=job.reader.size)
        summaries.append(job.summary)
    table = Table(title="import")
    for column in ("kind", "file", "rows", "new", "changed", "unchanged", "rejected"):
        table.add_column(column, justify="right" if column not in ("kind", "file") else "left")
    for s in summaries:
        table.add_row(
            s.kind,
            Path(s.file).name,
            f"{s.rows:,}",
            f"{s.new:,}",
            f"{s.changed:,}",
            f"{s.unchanged:,}",
            f"{len({(r.file, r.line) for r in s.rejects}):,}",
        )
    console.print(table)
    all_rejects = [r for s in summaries for r in s.rejects]
    if all_rejects:
        target = rejects_path or Path(f"rejects-{kind}.csv")
        write_report(target, all_rejects)
        for reject in all_rejects[:10]:
            errors.print(reject.message(), markup=False, highlight=False)
        more = f" ({len(all_rejects) - 10:,} more)" if len(all_rejects) > 10 else ""
        errors.print(f"{len(all_rejects):,} problems{more}; all listed in {target}", markup=False)


def import_command(kind: Kind) -> Any:
    """The `import` command of one kind's group."""

    def command(
        file: Annotated[Path, typer.Argument(help="CSV file, or a folder for a multi-file preset.")],
        preset: Annotated[
            str | None,
            typer.Option("--preset", help="Named layout (maven-crm) or a TOML mapping file."),
        ] = None,
        maps: Annotated[list[str] | None, typer.Option("--map", help="canonical=column, repeatable.")] = None,
        mapping: Annotated[
            Path | None, typer.Option("--mapping", help="TOML mapping file with a [columns] table.")
        ] = None,
        rejects: Annotated[
            Path | None, typer.Option("--rejects", help="Where to write the reject report.")
        ] = None,
    ) -> None:
        from leadflow.intake.columns import load_preset, single_file_mapping
        from leadflow.intake.service import preset_files

        with reported():
            if preset:
                loaded = load_preset(preset)
                if file.is_dir():
                    files = preset_files(loaded, file)
                else:
                    one = getattr(loaded, kind)
                    if one is None:
                        fail(f"preset {preset} has no layout for {kind}")
                    files = [(kind, file, one)]
            else:
                files = [
                    (
                        kind,
                        file,
                        single_file_mapping(kind, maps or [], str(mapping) if mapping else None),
                    )
                ]
        run_import(kind, files, rejects)

    command.__doc__ = f"""Import {kind} from a CSV file; bad rows go to a reject report, good ones in.

    Re-running the same import changes nothing. Examples:
    leadflow {kind} import {kind}.csv
    leadflow {kind} import export.csv --map name=Full_Name --rejects bad.csv
    leadflow leads import --preset maven-crm ../shared/data/maven-crm
    """
    return command


IMPORT_ONLY = {
    "sources": "Import lead sources and their cost.",
    "activities": "Import activities (calls, emails, meetings).",
    "companies": "Import companies (accounts).",
    "products": "Import products and prices.",
}


def register(app: typer.Typer) -> None:
    """The groups that only import: sources, activities, companies, products."""
    for kind, help_text in IMPORT_ONLY.items():
        group = typer.Typer(help=help_text, no_args_is_help=True)
        group.command("import")(import_command(kind))  # type: ignore[arg-type]
        app.add_typer(group, name=kind)
