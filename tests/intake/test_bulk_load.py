"""A large leads file into a smaller ledger is a bulk load: written without the indexes of the
tables it fills, which are built once at its end. The ledger it leaves is the one an ordinary
import leaves, and its indexes are all there, even when the load fails half-way."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select

from leadflow.db import session_scope
from leadflow.intake.columns import FileMapping
from leadflow.intake.leads import LeadWriter
from leadflow.intake.readers import CsvBatches
from leadflow.intake.service import DEFERRED_TABLES, bulk_mode, defers_indexes, import_batch, open_import
from leadflow.models import Assignment, Base, Lead, RepLoad, StageChange
from leadflow.settings import ImportSettings, Settings
from tests.conftest import Database

REPS = [["external_id", "name", "territory"], ["ann", "Ann", "East"], ["bo", "Bo", "West"]]


def _leads(n: int) -> list[list[str]]:
    """n leads, every fifth a second row for the lead before it (same email), half of them owned."""
    rows = [["external_id", "created_at", "email", "company", "owner", "stage"]]
    for i in range(n):
        person = i - 1 if i % 5 == 4 else i
        owner = ["ann", "bo", ""][person % 3]
        rows.append([f"L{i}", f"2026-0{1 + i % 9}-1{i % 10}", f"p{person}@acme{person % 7}.com",
                     f"Acme {person % 7}", owner, "won" if person % 11 == 0 else ""])  # fmt: skip
    return rows


def _settings(**imports: object) -> Settings:
    return Settings(imports=ImportSettings(batch_size=100, **imports))  # type: ignore[arg-type]


def _import(db: Database, path: Path, settings: Settings) -> None:
    """Import a leads file batch by batch, as the CLI does."""
    with session_scope(db.engine) as s:
        job = open_import(s, kind="leads", path=path, mapping=FileMapping(), settings=settings)
    with bulk_mode(db.engine, job=job):
        for batch in job.batches():
            with session_scope(db.engine) as s:
                import_batch(s, job=job, batch=batch)
    job.reader.close()
    assert not job.summary.rejects


def _ledger(db: Database) -> dict[str, object]:
    queries = {
        "leads": select(Lead.external_id, Lead.email, Lead.owner_id, Lead.stage).order_by(Lead.id),
        "stages": select(StageChange.lead_id, StageChange.to_stage).order_by(StageChange.id),
        "owners": select(Assignment.lead_id, Assignment.rep_id).order_by(Assignment.id),
        "load": select(RepLoad.rep_id, RepLoad.day, RepLoad.issued).order_by(RepLoad.rep_id, RepLoad.day),
    }
    with session_scope(db.engine) as s:
        return {name: s.execute(query).all() for name, query in queries.items()}


def _indexes_complete(db: Database) -> bool:
    inspector = inspect(db.engine)
    for table in DEFERRED_TABLES:
        present = {i["name"] for i in inspector.get_indexes(table)}
        if not {i.name for i in Base.metadata.tables[table].indexes} <= present:
            return False
    return True


def test_a_bulk_load_leaves_the_ledger_an_ordinary_import_leaves(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    assert db.cli("reps", "import", str(write_csv("reps.csv", REPS)))[0] == 0
    first, second = write_csv("a.csv", _leads(500)), write_csv("b.csv", [_leads(500)[0], *_leads(900)[501:]])
    bulk = _settings(defer_indexes_from_rows=100)
    with session_scope(db.engine) as s:
        job = open_import(s, kind="leads", path=first, mapping=FileMapping(), settings=bulk)
    assert defers_indexes(db.engine, job=job)
    job.reader.close()
    _import(db, first, bulk)
    assert _indexes_complete(db)
    ledger = _ledger(db)
    assert len(ledger["leads"]) == 400  # type: ignore[arg-type]  # the 100 second rows merged
    # the second file is smaller than the ledger now: an ordinary import, row by row
    with session_scope(db.engine) as s:
        job = open_import(s, kind="leads", path=second, mapping=FileMapping(), settings=bulk)
    assert not defers_indexes(db.engine, job=job)
    job.reader.close()
    _import(db, second, bulk)
    bulk_then_rows = _ledger(db)

    # the same two files, each imported row by row, into an empty ledger
    with db.engine.begin() as connection:
        for table in ("rep_load", "lead_changes", "lead_aliases", "stage_changes", "assignments", "leads"):
            connection.exec_driver_sql(f"DELETE FROM {table}")
        if db.kind == "postgresql":
            connection.exec_driver_sql("ALTER SEQUENCE leads_id_seq RESTART")
            connection.exec_driver_sql("ALTER SEQUENCE stage_changes_id_seq RESTART")
            connection.exec_driver_sql("ALTER SEQUENCE assignments_id_seq RESTART")
    ordinary = _settings(defer_indexes=False)
    _import(db, first, ordinary)
    assert _ledger(db) == ledger
    _import(db, second, ordinary)
    assert _ledger(db) == bulk_then_rows
    assert len(bulk_then_rows["leads"]) == 720  # type: ignore[arg-type]


def test_a_bulk_load_that_fails_half_way_keeps_its_committed_batches_and_the_indexes(  # type: ignore[no-untyped-def]
    db: Database, write_csv, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert db.cli("reps", "import", str(write_csv("reps.csv", REPS)))[0] == 0
    path = write_csv("a.csv", _leads(500))
    written = LeadWriter.write
    calls = []

    def fail_on_the_third(self, session, frame):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return written(self, session, frame)

    monkeypatch.setattr(LeadWriter, "write", fail_on_the_third)
    with pytest.raises(OSError, match="disk full"):
        _import(db, path, _settings(defer_indexes_from_rows=100))
    assert _indexes_complete(db)
    with session_scope(db.engine) as s:
        # the two batches of 100 rows before the failure, 40 of them merged into leads before them
        assert s.scalar(select(func.count()).select_from(Lead)) == 160


def test_small_files_other_kinds_and_the_switch_do_not_defer(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    path = write_csv("a.csv", _leads(500))
    reps = write_csv("reps.csv", REPS)
    cases = [
        ("leads", path, _settings(defer_indexes_from_rows=100), True),
        ("leads", path, _settings(defer_indexes_from_rows=1000), False),
        ("leads", path, _settings(defer_indexes_from_rows=100, defer_indexes=False), False),
        ("reps", reps, _settings(defer_indexes_from_rows=1), False),
    ]
    for kind, file, settings, expected in cases:
        with session_scope(db.engine) as s:
            job = open_import(s, kind=kind, path=file, mapping=FileMapping(), settings=settings)  # type: ignore[arg-type]
        assert defers_indexes(db.engine, job=job) is expected, (kind, settings.imports)
        job.reader.close()


def test_the_row_estimate_is_exact_for_a_small_file_and_close_for_a_large_one(write_csv) -> None:  # type: ignore[no-untyped-def]
    def estimate(path: Path) -> int:
        reader = CsvBatches(path, batch_size=100, max_cell_chars=1000)
        reader.close()
        return reader.estimated_rows()

    assert estimate(write_csv("small.csv", _leads(500))) == 500
    large = write_csv("large.csv", _leads(40_000))
    assert large.stat().st_size > 1 << 20
    assert abs(estimate(large) - 40_000) < 40_000 * 0.05
