"""Deduplication on capture: one person by email, phone, or domain and name; history kept."""

from __future__ import annotations

import io

import polars as pl
from sqlalchemy import text

from tests.conftest import Database

HEADER = ["external_id", "first_name", "last_name", "email", "phone", "company", "domain", "title"]


def leads(db: Database) -> pl.DataFrame:
    return pl.read_csv(io.StringIO(db.cli("leads", "list", "--format", "csv")[1]), infer_schema_length=None)


def test_spellings_of_one_person_merge_and_colleagues_stay_apart(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    first = write_csv(
        "a.csv",
        [
            HEADER,
            ["A1", "Ann", "Lee", "ann.lee@acme.com", "+1 (555) 010-7788", "Acme", "acme.com", ""],
            ["A2", "Bob", "Stone", "bob@acme.com", "", "Acme", "https://www.acme.com/", ""],
        ],
    )
    assert db.cli("leads", "import", str(first))[0] == 0
    second = write_csv(
        "b.csv",
        [
            HEADER,
            # same email in another case and spacing: merges, adds the title
            ["B1", "Ann", "Lee", " ANN.LEE@acme.com ", "", "Acme", "", "CTO"],
            # same phone, other format: merges
            ["B2", "", "", "", "555.010.7788", "", "", ""],
            # same domain and name, no email: merges into Bob
            ["B3", "bob", "STONE", "", "", "Acme Inc", "acme.com", ""],
            # same domain, another person: a new lead
            ["B4", "Cy", "Young", "cy@acme.com", "", "Acme", "acme.com", ""],
            # the same new person twice in one file: one lead
            ["B5", "Di", "Park", "di@beta.io", "", "Beta", "", ""],
            ["B6", "Di", "Park", "DI@beta.io", "", "Beta", "", "VP Sales"],
        ],
    )
    code, out, err = db.cli("leads", "import", str(second))
    assert code == 0, err
    table = leads(db)
    assert table.height == 4  # Ann, Bob, Cy, Di
    ann = table.filter(pl.col("external_id") == "A1")
    assert ann["title"].item() == "CTO"
    bob = table.filter(pl.col("external_id") == "A2")
    assert bob["company"].item() == "Acme"  # the lead merged into keeps its values
    di = table.filter(pl.col("external_id") == "B5")
    assert di["title"].item() == "VP Sales"

    with db.engine.connect() as connection:
        history = connection.execute(
            text(
                "SELECT field, old_value, new_value FROM lead_changes c JOIN leads l ON l.id = c.lead_id "
                "WHERE l.external_id = 'A2'"
            )
        ).all()
        aliases = dict(connection.execute(text("SELECT external_id, lead_id FROM lead_aliases")).all())
        offered = (
            connection.execute(
                text(
                    "SELECT a.note FROM activities a JOIN leads l ON l.id = a.lead_id "
                    "WHERE l.external_id = 'A2' AND a.kind = 'note'"
                )
            )
            .scalars()
            .all()
        )
    assert [h for h in history if h[0] == "company"] == []
    assert offered == [  # beside the lead, for its owner to judge
        "b.csv offered, not applied: first_name bob (kept Bob); last_name STONE (kept Stone); "
        "company Acme Inc (kept Acme)"
    ]
    assert set(aliases) == {"B1", "B2", "B3", "B6"}

    # Importing the same file again finds every row by its (aliased) external id: nothing changes.
    code, out, _ = db.cli("leads", "import", str(second))
    line = next(r for r in out.splitlines() if "b.csv" in r and "│" in r)  # the summary row
    assert [c.strip() for c in line.split("│") if c.strip()][3:5] == ["0", "0"]  # new, changed
    assert db.cli("leads", "show", "B3")[0] == 0  # a merged duplicate's id still finds the lead
