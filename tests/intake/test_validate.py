"""Typing a batch's cells: whole numbers, bands and size words, scale, synonyms; each bad cell
named with its line and reason, the row kept where the field is optional."""

from __future__ import annotations

import re

import polars as pl
import pytest

from leadflow.intake.columns import SPECS, FileMapping, Kind
from leadflow.intake.validate import ENUM_SYNONYMS, clean

SIZES = ["12", " 1,200 ", "51-200", "1000+", "Mid", "1.5", "1e30", "inf", "-5", "abc", None, "3.0"]


def _clean(column: str, values: list[str | None], mapping: FileMapping | None = None):  # type: ignore[no-untyped-def]
    raw = pl.DataFrame(
        {
            "_line": pl.Series(range(2, 2 + len(values)), dtype=pl.Int64),
            "email": [f"buyer{i}@acme{i}.example" for i in range(len(values))],
            column: pl.Series(values, dtype=pl.String),
        }
    )
    return clean(raw, SPECS["leads"], mapping or FileMapping(), formats=["%Y-%m-%d"], file="leads.csv",
                 size_words={"mid": 50})  # fmt: skip


def test_company_size_takes_whole_numbers_bands_and_words_and_names_each_bad_cell() -> None:
    cleaned = _clean("company_size", SIZES)
    sizes = dict(cleaned.frame.select("_line", "company_size").iter_rows())
    # every row kept (the size is optional); what a band or word said kept beside the number
    assert sizes == {2: 12, 3: 1200, 4: 51, 5: 1000, 6: 50, 7: None, 8: None, 9: None, 10: None, 11: None,
                     12: None, 13: 3}  # fmt: skip
    warned = {(r.line, r.value, r.reason.split(",")[0]) for r in cleaned.rejects}
    assert warned == {
        (7, "1.5", "not a whole number"),
        (8, "1e30", "not a whole number"),  # past a 64-bit integer
        (9, "inf", "not a whole number"),
        (10, "-5", "less than 0"),
        (11, "abc", "not a whole number"),
    }
    assert all(r.severity == "warning" and r.column == "company_size" for r in cleaned.rejects)
    extras = dict(cleaned.frame.select("_line", "extra").iter_rows())
    assert extras[4] == '{"company_size (as given)": "51-200"}' and extras[2] is None


def test_scale_applies_after_the_whole_number_check() -> None:
    cleaned = _clean("company_size", ["2", "1.5", "-1"], FileMapping(scale={"company_size": 1000.0}))
    assert cleaned.frame.get_column("company_size").to_list() == [2000, None, None]
    assert [(r.line, r.reason.split(",")[0]) for r in cleaned.rejects] == [
        (3, "not a whole number"),
        (4, "less than 0"),
    ]


def test_enum_synonyms_translate_only_what_they_name() -> None:
    cleaned = _clean("lead_type", ["Web", "webform", "Self_Sourced", "web form", "telepathy", None])
    assert cleaned.frame.get_column("lead_type").to_list() == [
        "web form", "web form", "self-sourced", "web form", None, None
    ]  # fmt: skip
    assert [(r.line, r.value) for r in cleaned.rejects] == [(6, "telepathy")]


@pytest.mark.parametrize(
    ("kind", "column"), [("leads", "lead_type"), ("leads", "stage"), ("activities", "kind")]
)
def test_each_enum_column_reads_its_choices_and_their_synonyms_only(kind: Kind, column: str) -> None:
    choices = next(c.choices for c in SPECS[kind].columns if c.name == column)
    # every choice and synonym as written by hand and by other CRMs, and words of other columns
    words = sorted({*choices, *ENUM_SYNONYMS, *ENUM_SYNONYMS.values(), "telepathy"})
    spellings = [*words, *(w.upper() for w in words), *(w.replace(" ", "_") for w in words), "Closed  Won"]
    lines = pl.Series(range(2, 2 + len(spellings)), dtype=pl.Int64)
    # what else a row of its kind needs to be kept
    rest = {"email": "a@b.example"} if kind == "leads" else {"lead": "L-1", "at": "2026-01-02"}
    raw = pl.DataFrame(
        {"_line": lines, column: spellings, **{k: [v] * len(spellings) for k, v in rest.items()}}
    )
    values = clean(raw, SPECS[kind], FileMapping(), formats=["%Y-%m-%d"], file="x.csv").frame

    def expected(text: str) -> str | None:  # the rule, as a person would apply it to one cell
        normal = re.sub(r"[_\s]+", " ", text.lower())
        translated = ENUM_SYNONYMS.get(normal, normal)
        return translated if translated in choices else None

    read = dict(zip(raw["_line"].to_list(), [expected(s) for s in spellings], strict=True))
    kept = dict(values.select("_line", column).iter_rows())
    # an unreadable cell is dropped from an optional column, or its row set aside
    assert {line: value for line, value in read.items() if line in kept} == kept
    assert set(read) - set(kept) == {line for line, value in read.items() if value is None} - set(kept)
    assert {line for line, value in read.items() if value is not None} <= set(kept)
    assert read[2 + spellings.index("Closed  Won")] == ("won" if "won" in choices else None)
    assert any(v is None for v in read.values()) and any(v is not None for v in read.values())


def test_a_value_too_long_is_named_whichever_column_holds_it_and_its_batch_is_otherwise_kept() -> None:
    # a name over its 200 characters sets its row aside; an optional field's is dropped, the row kept
    cleaned = _clean("last_name", ["Short", "x" * 201, "y" * 200])
    assert [(r.line, r.column, r.reason, r.severity) for r in cleaned.rejects] == [
        (3, "last_name", "longer than 200 characters", "error")
    ]
    assert cleaned.frame.get_column("last_name").to_list() == ["Short", "y" * 200]
    cleaned = _clean("industry", ["Software", "z" * 101, None])
    assert [(r.line, r.reason, r.severity) for r in cleaned.rejects] == [
        (3, "longer than 100 characters", "warning")
    ]
    assert cleaned.frame.get_column("industry").to_list() == ["software", None, None]
    # a batch whose values all fit takes no length check, and none is needed
    assert not _clean("last_name", ["Short", "y" * 200]).rejects
