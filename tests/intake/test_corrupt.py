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
]


def corrupted_file(path: Path, n: int = 400) -> tuple[set[str], set[int]]:
    """Write ``n`` lead rows, 5% of them broken in one of five ways; good ids and bad lines."""
    rng = random.Random(3)
    bad_rows = set(rng.sample(range(n), n // 20))
    good: set[str] = set()
    bad_lines: set[int] = set()
    kinds = ["date", "owner", "quote", "huge", "utf8"]
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
            ]
            kind = kinds[len(bad_lines) % len(kinds)] if i in bad_rows else ""
            if kind == "quote":
                row[8] = str(1000 + i)  # no quotes left on the line: the open quote runs on
            text = io.StringIO()
            csv.writer(text, lineterminator="\n").writerow(row)
            data = text.getvalue().encode()
            if i in bad_rows:
                if kind == "date":
                    data = data.replace(row[1].encode(), b"31/31/2024")
                elif kind == "owner":
                    data = data.replace(b"Rep One", b"Nobody Known")
                elif kind == "quote":
                    data = data.replace(b"Ann,", b'"Ann,', 1)
                elif kind == "huge":
                    data = data.replace(b"Firm", b"F" * 10_500_000 + b" Firm", 1)
                else:
                    data = data.replace(b"Ann", b"A\xff\xfen", 1)
                bad_lines.add(line)
            else:
                good.add(row[0])
            out.write(data)
    return good, bad_lines


def test_corrupted_rows_are_set_aside_and_good_rows_imported(db: Database, tmp_path: Path, write_csv) -> None:  # type: ignore[no-untyped-def]
    reps = write_csv("reps.csv", [["external_id", "name"], ["r1", "Rep One"]])
    assert db.cli("reps", "import", str(reps))[0] == 0
    leads = tmp_path / "leads.csv"
    good, bad_lines = corrupted_file(leads)
    report = tmp_path / "rejects.csv"

    code, _out, err = db.cli("leads", "import", str(leads), "--rejects", str(report))

    assert code == 0, err
    listed = pl.read_csv(io.StringIO(db.cli("leads", "list", "--format", "csv")[1]))
    assert set(listed["external_id"]) == good
    rejects = pl.read_csv(report)
    assert set(rejects["line"]) == bad_lines
    assert rejects.columns == ["file", "line", "column", "value", "reason", "severity"]
    reasons = " ".join(rejects["reason"])
    for expected in (
        "not a date",
        "no such rep",
        "quote is not closed",
        "longer than",
        "invalid UTF-8",
    ):
        assert expected in reasons
    assert f"{len(bad_lines):,} problems" in err or "problems" in err
