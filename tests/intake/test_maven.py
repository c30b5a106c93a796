"""The Maven CRM export imports exactly, and a second import changes nothing."""

from __future__ import annotations

import io

import polars as pl
from sqlalchemy import text

from leadflow.models import Base
from tests.conftest import MAVEN, Database, needs_maven

pytestmark = needs_maven


def snapshot(db: Database) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, ordered: equal snapshots mean an identical ledger."""
    tables: dict[str, list[tuple[object, ...]]] = {}
    with db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            order = ", ".join(c.name for c in table.primary_key.columns)
            rows = connection.execute(text(f"SELECT * FROM {table.name} ORDER BY {order}")).all()
            tables[table.name] = [tuple(r) for r in rows]
    return tables


def test_maven_import_matches_known_facts_and_is_idempotent(db: Database) -> None:
    code, out, err = db.cli("leads", "import", "--preset", "maven-crm", str(MAVEN))
    assert code == 0, err
    code, out, _ = db.cli("leads", "list", "--format", "csv")
    leads = pl.read_csv(io.StringIO(out), infer_schema_length=None)
    assert leads.height == 8800
    stages = dict(leads["stage"].value_counts().iter_rows())
    # Won 4,238 · Lost 2,473 · Engaging 1,589 · Prospecting 500 (shared/data/README.md)
    assert stages == {"won": 4238, "lost": 2473, "opportunity": 1589, "lead": 500}
    assert leads["owner"].n_unique() == 30
    assert leads.filter(pl.col("company").is_null()).height == 1425
    assert leads.filter(pl.col("created_at").is_null()).height == 500
    gtx = leads.filter(pl.col("external_id") == "Z063OYW0")
    assert gtx["product"].item() == "GTX Pro"
    assert leads.filter(pl.col("product") == "GTX Pro").height == 1480
    assert leads.filter(pl.col("stage") == "lost")["amount"].null_count() == 2473

    code, out, _ = db.cli("reps", "list", "--format", "csv")
    reps = pl.read_csv(io.StringIO(out))
    assert reps.height == 35
    assert reps.filter(pl.col("leads") > 0).height == 30
    moses = reps.filter(pl.col("name") == "Moses Frase")
    assert moses["team"].item() == "Dustin Brinkmann" and moses["territory"].item() == "Central"

    with db.engine.connect() as connection:
        price = connection.execute(
            text(
                "SELECT p.price FROM leads l JOIN products p ON p.id = l.product_id "
                "WHERE l.external_id = 'Z063OYW0'"
            )
        ).scalar_one()
        sector = connection.execute(
            text("SELECT industry FROM companies WHERE name = 'Acme Corporation'")
        ).scalar_one()
    assert price == 4821
    assert sector == "technolgy"  # the export's own typo is kept, not silently rewritten

    before = snapshot(db)
    code, out, err = db.cli("leads", "import", "--preset", "maven-crm", str(MAVEN))
    assert code == 0, err
    summary = next(line for line in out.splitlines() if "sales_pipeline" in line and "│" in line)
    cells = [c.strip() for c in summary.split("│") if c.strip()]
    assert cells[2:] == ["8,800", "0", "0", "8,800", "0", "0"]  # rows new changed unchanged rejected warned
    assert snapshot(db) == before
