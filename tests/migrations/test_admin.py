"""The schema: migrations build exactly what the models declare, indexes dropped for a bulk load
always come back, and a command on a database without this leadflow's schema says what to run."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect
from typer.testing import CliRunner

from leadflow.cli import app
from leadflow.migrations.admin import (
    alembic_config,
    head_revision,
    indexes_deferred,
    restore_indexes,
    upgrade,
)
from leadflow.models import Base
from tests.conftest import Database


def _indexes(engine: Engine, table: str) -> set[str]:
    """The table's indexes, leaving out those that back a uniqueness constraint (PostgreSQL's)."""
    found = inspect(engine).get_indexes(table)
    return {str(i["name"]) for i in found if not i.get("duplicates_constraint")}


def _declared(table: str) -> set[str]:
    return {str(i.name) for i in Base.metadata.tables[table].indexes}


def test_the_migrations_build_what_the_models_declare(db: Database) -> None:
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
    # the indexes that 0013 dropped stay dropped, and the ones reports and dedupe use are there
    leads = _indexes(db.engine, "leads")
    assert {"ix_leads_report", "ix_leads_email_key", "ix_leads_owner_stage"} <= leads
    assert not {"ix_leads_source_id", "ix_leads_territory_id", "ix_leads_company_id"} & leads


def test_deferred_indexes_come_back_after_the_load_and_after_an_error(db: Database) -> None:
    tables = ("leads", "assignments")
    with indexes_deferred(db.engine, tables=tables, keep=["ix_assignments_lead_id"]):
        assert _indexes(db.engine, "leads") == set()
        unique = inspect(db.engine).get_unique_constraints("leads")
        assert [u["column_names"] for u in unique] == [["external_id"]]
        assert _indexes(db.engine, "assignments") == {"ix_assignments_lead_id"}
    assert _indexes(db.engine, "leads") == _declared("leads")
    assert _indexes(db.engine, "assignments") == _declared("assignments")
    with pytest.raises(RuntimeError), indexes_deferred(db.engine, tables=tables):
        raise RuntimeError("the load failed")
    assert _indexes(db.engine, "leads") == _declared("leads")


def test_missing_indexes_are_rebuilt_by_restore_and_by_init(db: Database) -> None:
    with db.engine.begin() as connection:
        connection.exec_driver_sql("DROP INDEX ix_leads_report")
        connection.exec_driver_sql("DROP INDEX ix_stage_changes_lead_id")
    assert restore_indexes(db.engine) == ["ix_leads_report", "ix_stage_changes_lead_id"]
    assert restore_indexes(db.engine) == []
    with db.engine.begin() as connection:
        connection.exec_driver_sql("DROP INDEX ix_leads_email_key")
    upgrade(db.engine)
    assert _indexes(db.engine, "leads") == _declared("leads")


def test_a_command_on_a_database_not_made_by_init_says_to_run_init(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, ["--db", f"sqlite:///{path}", *args], env={"COLUMNS": "200"})
        return result.exit_code, result.stderr

    code, err = run("leads", "list")
    assert code == 1 and "no database at" in err and "leadflow init" in err
    assert not path.exists()  # a mistyped path leaves no empty database behind
    sqlite3.connect(path).close()  # a file, but not a leadflow ledger
    code, err = run("reps", "list")
    assert code == 1 and "has no leadflow schema yet" in err and "Traceback" not in err
    assert run("init")[0] == 0
    assert run("leads", "list")[0] == 0


def test_a_schema_behind_this_leadflow_is_named_and_init_upgrades_it(db: Database) -> None:
    older = "0014"
    config = alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, older)
    code, _, err = db.cli("leads", "list")
    assert code == 1 and f"schema revision {older}" in err and head_revision() in err
    assert "leadflow init" in err
    assert db.cli("init")[0] == 0
    assert db.cli("leads", "list")[0] == 0
