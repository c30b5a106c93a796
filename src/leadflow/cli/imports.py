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
    from leadflow.intake.columns import Kind, ResolvedHeader
    from leadflow.intake.service import ImportSummary


def run_import(
    kind: Kind, files: list[tuple[Kind, Path, Any]], rejects_path: Path | None, *, dry_run: bool = False
) -> None:
    """Import each file in batches (one transaction each) behind a progress bar, then print the
    summary and write every problem to the reject report. ``dry_run``: the whole import in one
    transaction, rolled back: the mapping, the counts and the problems, nothing written."""
    from leadflow.db import session_scope
    from leadflow.intake.rejects import write_report
    from leadflow.intake.service import bulk_mode, import_batch, open_import

    engine = state.engine()
    settings = state.settings()
    summaries: list[ImportSummary] = []
    if dry_run:  # every file in one transaction, so a preset's leads find its reps
        with reported(), session_scope(engine, write=True, dry_run=True) as session:
            for file_kind, path, mapping in files:
                job = open_import(session, kind=file_kind, path=path, mapping=mapping, settings=settings)
                show_header(path, job.header)
                with _progress(file_kind, path) as progress:
                    task = progress.add_task("import", total=job.reader.size)
                    for batch in job.batches():
                        import_batch(session, job=job, batch=batch)
                        progress.update(task, completed=job.reader.position)
                summaries.append(job.summary)
    for file_kind, path, mapping in files if not dry_run else []:
        with reported(), session_scope(engine, write=True) as session:
            job = open_import(session, kind=file_kind, path=path, mapping=mapping, settings=settings)
        show_header(path, job.header)
        with _progress(file_kind, path) as progress, bulk_mode(engine, job=job):
            task = progress.add_task("import", total=job.reader.size)
            for batch in job.batches():
                with session_scope(engine, write=True) as session:
                    import_batch(session, job=job, batch=batch)
                progress.update(task, completed=job.reader.position)
        summaries.append(job.summary)
    table = Table(title="import (dry run: nothing written)" if dry_run else "import")
    columns = ("kind", "file", "rows", "new", "changed", "unchanged", "rejected", "warnings")
    for column in columns:
        table.add_column(column, justify="right" if column not in ("kind", "file") else "left")
    for s in summaries:
        rejected = {(r.file, r.line) for r in s.rejects if r.severity == "error"}
        table.add_row(
            s.kind,
            Path(s.file).name,
            f"{s.rows:,}",
            f"{s.new:,}",
            f"{s.changed:,}",
            f"{s.unchanged:,}",
            f"{len(rejected):,}",
            f"{sum(r.severity == 'warning' for r in s.rejects):,}",
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


def _progress(kind: str, path: Path) -> Progress:
    """A progress bar of bytes read, on a terminal."""
    return Progress(
        TextColumn(f"{kind:<10} {path.name}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=errors,
        transient=False,
        disable=not errors.is_terminal,
    )


def show_header(path: Path, header: ResolvedHeader) -> None:
    """How the file's columns were understood: each column's field, and what was kept aside."""
    table = Table(title=f"{path.name}: columns", title_justify="left")
    for column in ("column", "field", "matched by"):
        table.add_column(column)
    for column, field, how in header.matched:
        table.add_row(column, field, how)
    for column in header.extras:
        table.add_row(column, "extra attribute", "not a leadflow field: kept as is")
    for column in header.ignored:
        table.add_row(column, "(ignored)", "not a field of this kind, or one leadflow computes")
    if header.absent:
        table.caption = f"not in this file: {', '.join(header.absent)}"
    console.print(table)


def import_command(kind: Kind) -> Any:
    """The `import` command of one kind's group."""

    def command(
        file: Annotated[Path, typer.Argument(help="CSV file, or a folder for a multi-file preset.")],
        preset: Annotated[
            str | None,
            typer.Option(
                "--preset", help="Named layout (hubspot, salesforce, maven-crm) or a TOML mapping file."
            ),
        ] = None,
        maps: Annotated[list[str] | None, typer.Option("--map", help="canonical=column, repeatable.")] = None,
        mapping: Annotated[
            Path | None, typer.Option("--mapping", help="TOML mapping file with a [columns] table.")
        ] = None,
        rejects: Annotated[
            Path | None, typer.Option("--rejects", help="Where to write the reject report.")
        ] = None,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Show the mapping, counts and problems; write nothing.")
        ] = False,
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
        run_import(kind, files, rejects, dry_run=dry_run)

    command.__doc__ = f"""Import {kind} from a CSV file; bad rows go to a reject report, good ones in.

    Re-running the same import changes nothing. Examples:
    leadflow {kind} import {kind}.csv
    leadflow {kind} import export.csv --map name=Full_Name --rejects bad.csv
    leadflow leads import --preset hubspot hubspot-contacts.csv
    leadflow leads import --preset maven-crm ../shared/data/maven-crm
    leadflow {kind} import export.csv --dry-run
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
