"""Extra attributes whose keys differ from lead to lead: every key becomes a column, wherever in
the ledger it first appears, and a key holding numbers for some leads and text for others is text."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl

from leadflow.ledger.extras import decode_extras
from tests.conftest import Database


def test_every_key_of_every_lead_is_a_column() -> None:
    extras = [json.dumps({"Rating": "Hot"})] * 150 + [None, json.dumps({"utm_source": "ads", "Rating": 3})]
    decoded = decode_extras(pl.Series(extras, dtype=pl.String))
    assert decoded.columns == ["Rating", "utm_source"]
    assert decoded.dtypes == [pl.String, pl.String]
    assert decoded.row(151) == ("3", "ads") and decoded.row(150) == (None, None)
    assert decode_extras(pl.Series([None, None], dtype=pl.String)).shape == (2, 0)


def test_export_and_training_take_extras_of_any_shape(db: Database, write_csv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = [["external_id", "email", "stage", "Rating"]] + [
        [f"A{i}", f"a{i}@x{i}.example", "won" if i % 3 == 0 else "lost", "Hot" if i % 2 else "Cold"]
        for i in range(150)
    ]
    later = [["external_id", "email", "stage", "Campaign"]] + [
        [f"B{i}", f"b{i}@y{i}.example", "won" if i % 4 == 0 else "lost", f"spring-{i % 3}"] for i in range(60)
    ]
    assert db.cli("leads", "import", str(write_csv("a.csv", first)))[0] == 0
    assert db.cli("leads", "import", str(write_csv("b.csv", later)))[0] == 0
    out = tmp_path / "out.csv"
    code, _, err = db.cli("export", str(out))
    assert code == 0, err
    with out.open(encoding="utf-8") as handle:
        rows = {r["external_id"]: r for r in csv.DictReader(handle)}
    assert (rows["A1"]["Rating"], rows["A1"]["Campaign"]) == ("Hot", "")
    assert (rows["B5"]["Rating"], rows["B5"]["Campaign"]) == ("", "spring-2")
    code, out_text, err = db.cli("score", "--train", "--all")
    assert code == 0, err + out_text
