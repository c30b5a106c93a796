"""Import a file of one kind in batches. The caller owns each batch's transaction.

job = open_import(session, kind="leads", path=path, mapping=mapping, settings=settings)
for batch in job.batches():
    with session_scope(engine) as session:
        import_batch(session, job=job, batch=batch)
job.summary  # new, changed, unchanged, rejects
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from leadflow.db import write_cache
from leadflow.intake.activities import ActivityWriter
from leadflow.intake.columns import SPECS, FileMapping, Kind, Preset, ResolvedHeader, resolve_header
from leadflow.intake.leads import LeadWriter
from leadflow.intake.readers import Batch, CsvBatches, ReadError
from leadflow.intake.reference import write_companies, write_products, write_reps, write_sources
from leadflow.intake.rejects import Reject
from leadflow.intake.validate import clean_batch, raw_frame
from leadflow.migrations.admin import indexes_deferred, restore_indexes
from leadflow.models import Lead
from leadflow.settings import Settings

REFERENCE_WRITERS = {
    "reps": write_reps,
    "sources": write_sources,
    "companies": write_companies,
    "products": write_products,
}


@dataclass
class ImportSummary:
    """What importing one file did."""

    kind: Kind
    file: str
    rows: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    rejects: list[Reject] = field(default_factory=list)


@dataclass
class FileImport:
    """One file being imported: its reader, how its header maps, and the writer for its kind."""

    kind: Kind
    reader: CsvBatches
    header: ResolvedHeader
    mapping: FileMapping
    settings: Settings
    writer: LeadWriter | ActivityWriter | None
    summary: ImportSummary

    def batches(self) -> Iterator[Batch]:
        """The file's rows in batches of ``imports.batch_size``."""
        return iter(self.reader)


def open_import(
    session: Session, *, kind: Kind, path: Path, mapping: FileMapping, settings: Settings
) -> FileImport:
    """Open a file for import: read its header, resolve the mapping, load what the writer needs."""
    reader = CsvBatches(
        path, batch_size=settings.imports.batch_size, max_cell_chars=settings.imports.max_cell_bytes
    )
    try:
        header = resolve_header(kind, reader.header, mapping)
    except ValueError:
        reader.close()
        raise
    writer: LeadWriter | ActivityWriter | None = None
    if kind == "leads":
        writer = LeadWriter(session, file=path.name, mapping=mapping, settings=settings)
    elif kind == "activities":
        writer = ActivityWriter(session, file=path.name, settings=settings)
    return FileImport(
        kind=kind,
        reader=reader,
        header=header,
        mapping=mapping,
        settings=settings,
        writer=writer,
        summary=ImportSummary(kind=kind, file=str(path)),
    )


def import_batch(session: Session, *, job: FileImport, batch: Batch) -> None:
    """Validate and write one batch; bad rows go to the job's rejects, good ones to the ledger."""
    name = job.reader.path.name
    summary = job.summary
    summary.rows += len(batch.rows) + len({r.line for r in batch.rejects})
    summary.rejects.extend(batch.rejects)
    raw = raw_frame(batch, job.header.positions, job.mapping)
    cleaned = clean_batch(raw, SPECS[job.kind], job.mapping, settings=job.settings, file=name)
    summary.rejects.extend(cleaned.rejects)
    if cleaned.frame.is_empty():
        return
    if job.writer is not None:
        result = job.writer.write(session, cleaned.frame)
    else:
        result = REFERENCE_WRITERS[job.kind](session, cleaned.frame, file=name)
    summary.new += result.new
    summary.changed += result.changed
    summary.unchanged += result.unchanged
    summary.rejects.extend(result.rejects)


# What a bulk load writes without indexes. The import's own reads use none of them but
# ix_assignments_lead_id, by which a merge ends a lead's assignment.
DEFERRED_TABLES = ("leads", "stage_changes", "assignments")
KEPT_INDEXES = ("ix_assignments_lead_id",)


@contextmanager
def bulk_mode(engine: Engine, *, job: FileImport) -> Iterator[None]:
    """Set up the process and database for a file's batches.

    Python's cyclic garbage collector pauses: an import holds millions of small lists and tuples
    at once, and the collector would scan them all again and again (it halves the import's speed)
    though none of them form cycles. Its connections get a large page cache (``write_cache``).
    A leads file larger than the ledger (and than ``imports.defer_indexes_from_rows``) is a bulk
    load: it writes without the indexes of the tables it fills and builds them once at its end,
    which is several times faster than updating them row by row.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        with write_cache(engine):
            if defers_indexes(engine, job=job):
                with indexes_deferred(engine, tables=DEFERRED_TABLES, keep=KEPT_INDEXES):
                    yield
            else:
                restore_indexes(engine)
                yield
    finally:
        if enabled:
            gc.enable()


def defers_indexes(engine: Engine, *, job: FileImport) -> bool:
    """Whether this import is a bulk load: a large leads file into a smaller ledger."""
    settings = job.settings.imports
    if job.kind != "leads" or not settings.defer_indexes:
        return False
    rows = job.reader.estimated_rows()
    if rows < settings.defer_indexes_from_rows:
        return False
    with engine.connect() as connection:
        held = connection.execute(select(func.count()).select_from(Lead)).scalar_one()
    return rows > held


def preset_files(preset: Preset, folder: Path) -> list[tuple[Kind, Path, FileMapping]]:
    """The files of a multi-file preset found in ``folder``, in import order."""
    if not folder.is_dir():
        raise ReadError(f"{folder}: a preset imports a folder of files; this is not a folder")
    found: list[tuple[Kind, Path, FileMapping]] = []
    for kind, mapping in preset.files():
        path = folder / (mapping.file or f"{kind}.csv")
        if not path.is_file():
            raise ReadError(f"{path}: the preset expects this file for {kind}")
        found.append((kind, path, mapping))
    return found
