"""An export imports back into an empty ledger unchanged."""

from __future__ import annotations

import io
import json
from pathlib import Path

import polars as pl

from leadflow.db import make_engine
from leadflow.migrations.admin import upgrade
from tests.conftest import Database


def test_export_round_trip(db: Database, write_csv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reps = write_csv("r.csv", [["external_id", "name", "email", "team", "territory", "capacity"],
                               ["ann", "Ann Lee", "ann@x.com", "East team", "East;North", "40"]])  # fmt: skip
    leads = write_csv(
        "l.csv",
        [
            [
                "external_id",
                "created_at",
                "first_name",
                "email",
                "company",
                "owner",
                "stage",
                "budget",
                "campaign",
            ],
            ["L1", "2026-01-05", "Bo", "bo@acme.com", "Acme", "ann", "qualified", "12000", "spring"],
            ["L2", "2026-01-06", "Cy", "cy@beta.io", "Beta", "", "inquiry", "", ""],
        ],
    )
    assert db.cli("reps", "import", str(reps))[0] == 0
    assert db.cli("leads", "import", str(leads))[0] == 0
    assert db.cli("export", str(tmp_path / "reps_out.csv"), "--kind", "reps")[0] == 0
    assert db.cli("export", str(tmp_path / "leads_out.csv"))[0] == 0

    other = Database(
        "sqlite", f"sqlite:///{tmp_path / 'other.db'}", make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    )
    upgrade(other.engine)
    assert other.cli("reps", "import", str(tmp_path / "reps_out.csv"))[0] == 0
    code, _, err = other.cli("leads", "import", str(tmp_path / "leads_out.csv"))
    assert code == 0, err

    def listed(d: Database, what: str) -> pl.DataFrame:
        return pl.read_csv(
            io.StringIO(d.cli(what, "list", "--format", "csv")[1]), infer_schema_length=None
        ).drop("id")

    assert listed(other, "leads").equals(listed(db, "leads"))
    assert listed(other, "reps").equals(listed(db, "reps"))
    story = json.loads(other.cli("leads", "show", "L1", "--format", "json")[1])
    # extra attributes travel too, and computed columns (id, fit_score...) do not become extras
    assert story["lead"]["extra"] == {"campaign": "spring"}


def test_formulas_in_csv_are_neutralised(db: Database, write_csv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    evil = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3"]
    leads = write_csv(
        "l.csv",
        [["external_id", "created_at", "company", "title", "last_name", "city"], ["L1", "2026-01-05", *evil]],
    )
    assert db.cli("leads", "import", str(leads))[0] == 0
    listed = db.cli("leads", "list", "--format", "csv")[1]
    row = pl.read_csv(io.StringIO(listed)).row(0, named=True)
    assert row["company"] == "'" + evil[0]
    assert db.cli("export", str(tmp_path / "out.csv"))[0] == 0
    exported = pl.read_csv(tmp_path / "out.csv").row(0, named=True)
    assert [exported[c] for c in ("company", "title", "last_name", "city")] == ["'" + v for v in evil]
    # and leadflow reads its own export back as the values were
    other = Database(
        "sqlite", f"sqlite:///{tmp_path / 'o.db'}", make_engine(f"sqlite:///{tmp_path / 'o.db'}")
    )
    upgrade(other.engine)
    assert other.cli("leads", "import", str(tmp_path / "out.csv"))[0] == 0
    again = json.loads(other.cli("leads", "show", "L1", "--format", "json")[1])["lead"]
    assert [again[c] for c in ("company", "title", "last_name", "city")] == evil
