"""Files without a preset: headers matched by what they mean, what was not understood named, a
file with nothing to tell leads apart refused, and a dry run that writes nothing."""

from __future__ import annotations

import csv
import io

import polars as pl

from tests.conftest import Database


def listed(db: Database) -> pl.DataFrame:
    return pl.read_csv(io.StringIO(db.cli("leads", "list", "--format", "csv")[1]), infer_schema_length=None)


def test_other_crms_headers_are_matched_and_the_rest_named(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    path = write_csv(
        "leads.csv",
        [
            ["Lead #", "E-mail Address", "Company Name", "FIRST NAME", "Surname", "Date Created",
             "Decision Maker?", "Number of Employees", "Favourite Colour"],
            ["7", "Carol Contact <carol@acme.com>", "Acme", "Carol", "Contact", "2025-03-04", "ja", "51-200",
             "teal"],
            ["8", "dan@beta.example", "Beta", "Dan", "Brown", "3/5/2025", "nein", "1,200", ""],
        ],
    )  # fmt: skip
    code, out, err = db.cli("leads", "import", str(path))
    assert code == 0, err
    for column, field in [("Lead #", "external_id"), ("E-mail Address", "email"), ("Surname", "last_name"),
                          ("Date Created", "created_at"), ("Decision Maker?", "authority")]:  # fmt: skip
        assert any(column in line and field in line for line in out.splitlines()), (column, field)
    assert any("Favourite Colour" in line and "extra attribute" in line for line in out.splitlines())
    rows = {r["external_id"]: r for r in listed(db).iter_rows(named=True)}
    assert rows[7]["email"] == "carol@acme.com" and rows[7]["company"] == "Acme"
    assert rows[7]["created_at"].startswith("2025-03-04") and rows[8]["created_at"].startswith("2025-03-05")
    assert rows[7]["authority"] is True and rows[8]["authority"] is False
    assert (rows[7]["company_size"], rows[8]["company_size"]) == (51, 1200)

    code, out, _ = db.cli("leads", "import", str(path))  # found again by id and email: nothing new
    line = next(r for r in out.splitlines() if "leads.csv" in r and "│" in r and "leads " in r)
    assert [c.strip() for c in line.split("│") if c.strip()][3:5] == ["0", "0"]


def test_a_file_with_no_identity_column_is_refused_not_imported_empty(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    path = write_csv("odd.csv", [["Colour", "Mood"], ["teal", "calm"], ["red", "busy"]])
    code, _, err = db.cli("leads", "import", str(path))
    assert code != 0
    assert "no column of the header was recognised as an email, phone, external id" in err
    assert "Colour, Mood" in err and "--map" in err
    assert listed(db).height == 0


def test_a_row_without_identity_is_reported_and_the_others_go_in(db: Database, write_csv, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_csv(
        "leads.csv",
        [["email", "company", "last_name", "title"], ["a@x.example", "", "", ""], ["", "Acme", "Lee", ""],
         ["", "Acme", "", "CTO"], ["not an email", "", "", "CEO"]],
    )  # fmt: skip
    report = tmp_path / "r.csv"
    code, _, err = db.cli("leads", "import", str(path), "--rejects", str(report))
    assert code == 0, err
    assert sorted(listed(db)["company"].fill_null("").to_list()) == ["", "Acme"]
    with report.open(encoding="utf-8") as handle:
        problems = {(int(r["line"]), r["column"], r["severity"]) for r in csv.DictReader(handle)}
    # line 4: a company with nobody's name; line 5: its email unreadable, so nothing is left to know it by
    assert problems == {(4, "", "error"), (5, "email", "warning"), (5, "", "error")}


def test_dry_run_shows_mapping_and_problems_and_writes_nothing(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    path = write_csv(
        "leads.csv",
        [["Email Address", "Created"], ["a@x.example", "2025-01-02"], ["b@x.example", "yesterday"]],
    )
    code, out, err = db.cli("leads", "import", str(path), "--dry-run")
    assert code == 0, err
    assert "dry run: nothing written" in out and "Email Address" in out
    assert "leads.csv:3: created_at 'yesterday': not a date" in err
    assert listed(db).height == 0
