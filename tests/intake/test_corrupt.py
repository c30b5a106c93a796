"""A file with 5% corrupted rows: every good row goes in, every bad one is in the reject report."""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

import polars as pl

from tests.conftest import Database

HEADER = [
    "external_id",
    "created_at",
    "first_name",
    "last_name",
    "email",
    "company",
    "owner",
    "stage",
    "amount",
    "company_size",
    "authority",
]
# Each sets the row aside: its date, owner, record, size, text, outcome or identity is broken.
ERRORS = ["date", "owner", "quote", "huge", "utf8", "nul", "negative amount", "no identity"]
# Each drops one optional field; the lead goes in without it.
WARNINGS = ["negative size", "size word", "yes or no", "email"]


def corrupted_file(path: Path, n: int = 600) -> tuple[set[str], set[int], set[int]]:
    """Write ``n`` lead rows, 5% of them broken in one of the ways above; the ids that must go
    in, the lines set aside, and the lines that go in with a warning."""
    rng = random.Random(3)
    bad_rows = sorted(rng.sample(range(n), n // 20))
    kinds = dict(zip(bad_rows, [(ERRORS + WARNINGS)[i % 12] for i in range(len(bad_rows))], strict=True))
    good: set[str] = set()
    bad_lines: set[int] = set()
    warned: set[int] = set()
    with path.open("wb") as out:
        out.write((",".join(HEADER) + "\n").encode())
        for i in range(n):
            line = i + 2
            row = [
                f"L{i:05d}",
                f"2024-0{1 + i % 9}-1{i % 9}",
                "Ann",
                f"Lee{i}",
                f"ann{i}@firm{i}.com",
                f"Firm {i}",
                "Rep One",
                "lead",
                f"{1000 + i:,}",
                "51-200",
                "yes",
            ]
            kind = kinds.get(i, "")
            if kind == "quote":
                row[8] = str(1000 + i)  # no quotes left on the line: the open quote runs on
            elif kind == "negative amount":
                row[8] = "-250"
            elif kind == "no identity":
                row[0], row[4], row[2], row[3] = "", "", "", ""
            elif kind == "negative size":
                row[9] = "-40"
            elif kind == "size word":
                row[9] = "huge-ish"
            elif kind == "yes or no":
                row[10] = "perhaps"
            elif kind == "email":
                row[4] = "ann at firm"
            text = io.StringIO()
            csv.writer(text, lineterminator="\n").writerow(row)
            data = text.getvalue().encode()
            if kind == "date":
                data = data.replace(row[1].encode(), b"31/31/2024")
            elif kind == "owner":
                data = data.replace(b"Rep One", b"Nobody Known")
            elif kind == "quote":
                data = data.replace(b"Ann,", b'"Ann,', 1)
            elif kind == "huge":
                data = data.replace(b"Firm", b"F" * 10_500_000 + b" Firm", 1)
            elif kind == "utf8":
                data = data.replace(b"Ann", b"A\xff\xfen", 1)
            elif kind == "nul":
                data = data.replace(b"Ann", b"A\x00nn", 1)
            if kind in ERRORS:
                bad_lines.add(line)
            else:
                good.add(row[0])
                if kind:
                    warned.add(line)
            out.write(data)
    return good, bad_lines, warned


def test_corrupted_rows_are_set_aside_and_good_rows_imported(db: Database, tmp_path: Path, write_csv) -> None:  # type: ignore[no-untyped-def]
    reps = write_csv("reps.csv", [["external_id", "name"], ["r1", "Rep One"]])
    assert db.cli("reps", "import", str(reps))[0] == 0
    leads = tmp_path / "leads.csv"
    good, bad_lines, warned = corrupted_file(leads)
    report = tmp_path / "rejects.csv"

    code, _out, err = db.cli("leads", "import", str(leads), "--rejects", str(report))

    assert code == 0, err
    listed = pl.read_csv(io.StringIO(db.cli("leads", "list", "--format", "csv")[1]), infer_schema_length=None)
    assert set(listed["external_id"]) == good
    rejects = pl.read_csv(report, infer_schema_length=None)
    assert rejects.columns == ["file", "line", "column", "value", "reason", "severity"]
    assert set(rejects.filter(pl.col("severity") == "error")["line"]) == bad_lines
    assert set(rejects.filter(pl.col("severity") == "warning")["line"]) == warned
    reasons = " ".join(rejects["reason"])
    for expected in (
        "not a date",
        "no such rep",
        "quote is not closed",
        "longer than",
        "invalid UTF-8",
        "a NUL character",
        "less than 0",
        "nothing to tell this lead by",
        "not yes/no",
        "not an email",
    ):
        assert expected in reasons, expected
    # a warned lead went in whole but for its one bad field
    sizes = dict(listed.select("external_id", "company_size").iter_rows())
    assert sorted({sizes[i] for i in good} - {None}) == [51]
    assert listed["company"].null_count() == 0 and listed["last_name"].null_count() == 0
    assert f"{len(bad_lines):,} problems" in err or "problems" in err
