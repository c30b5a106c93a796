"""The schema: migrations build exactly what the models declare, and indexes dropped for a bulk
load always come back."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from leadflow.models import Base
from leadflow.schema_admin import indexes_deferred, restore_indexes, upgrade
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
