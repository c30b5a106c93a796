"""Other layouts: --map, TOML mapping files, messy values, and clear errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import polars as pl

from tests.conftest import Database


def test_map_option_and_messy_values(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    path = write_csv(
        "export.csv",
        [
            ["Opp ID", "Created", "Account", "Deal Size", "Phase", "Employees", "Campaign"],
            ["X1", "3/31/2024", "  Acme   Corp ", "$12,500.00", "Closed Won", "1,200", "spring"],
            ["X2", "2024-04-02 13:45", "Beta", "", "NEW", "", ""],
            ["X3", "31.03.2024", "Gamma", "7 000", "opportunity", "15", "fall"],
        ],
    )
    code, _, err = db.cli(
        "leads",
        "import",
        str(path),
        "--map",
        "external_id=Opp ID",
        "--map",
        "created_at=Created",
        "--map",
        "company=Account",
        "--map",
        "amount=Deal Size",
        "--map",
        "stage=Phase",
        "--map",
        "company_size=Employees",
    )
    assert code == 0, err
    table = pl.read_csv(io.StringIO(db.cli("leads", "list", "--format", "csv")[1]), infer_schema_length=None)
    rows = {r["external_id"]: r for r in table.iter_rows(named=True)}
    assert rows["X1"]["company"] == "Acme Corp"
    assert rows["X1"]["amount"] == 12500.0
    assert rows["X1"]["stage"] == "won"
    assert rows["X1"]["company_size"] == 1200
    assert rows["X1"]["created_at"].startswith("2024-03-31")
    assert rows["X2"]["stage"] == "inquiry" and rows["X2"]["created_at"].startswith("2024-04-02T13:45")
    assert rows["X3"]["created_at"].startswith("2024-03-31") and rows["X3"]["amount"] == 7000.0
    story = json.loads(db.cli("leads", "show", "X1", "--format", "json")[1])
    assert story["lead"]["extra"] == {"Campaign": "spring"}  # unknown columns are kept


def test_mapping_file_and_errors_name_the_problem(db: Database, write_csv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write_csv("reps.csv", [["Full Name", "Mail", "Seats"], ["Ann Lee", "ann@x.com", "40"]])
    mapping = tmp_path / "map.toml"
    mapping.write_text('[columns]\nname = "Full Name"\nemail = "Mail"\ncapacity = "Seats"\n')
    code, _, err = db.cli("reps", "import", str(path), "--mapping", str(mapping))
    assert code == 0, err
    reps = pl.read_csv(io.StringIO(db.cli("reps", "list", "--format", "csv")[1]))
    assert reps.row(0, named=True)["capacity"] == 40 and reps.row(0, named=True)["email"] == "ann@x.com"

    code, _, err = db.cli("reps", "import", str(path), "--map", "name=Nope")
    assert code == 1 and "Nope" in err and "Full Name" in err
    code, _, err = db.cli("reps", "import", str(path), "--map", "wrong=Mail")
    assert code == 1 and "no canonical column wrong" in err
    code, _, err = db.cli("leads", "import", str(tmp_path / "missing.csv"))
    assert code == 1 and "no such file" in err
    code, _, err = db.cli("leads", "import", str(path), "--preset", "nope")
    assert code == 1 and "maven-crm" in err
