"""Merging never loses the lead merged into: a later duplicate fills blanks and is noted, an
external id reused for another person is reported, and only configured fields are replaced."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import select

from leadflow.db import session_scope
from leadflow.models import Activity, Lead, Territory
from tests.conftest import Database

HEADER = ["external_id", "created_at", "first_name", "last_name", "email", "phone", "company", "territory",
          "title"]  # fmt: skip


def leads_file(write_csv, name: str, *rows: list[str]) -> str:  # type: ignore[no-untyped-def]
    return str(write_csv(name, [HEADER, *rows]))


def lead_by_email(db: Database, email: str) -> Lead:
    with session_scope(db.engine) as s:
        lead = s.scalars(select(Lead).where(Lead.email == email)).one()
        s.expunge(lead)
        return lead


def test_a_later_duplicate_fills_blanks_and_never_overwrites(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    carol_row = ["A1", "2024-01-10", "Carol", "Contact", "carol@acme.com", "", "Acme", "East", ""]
    assert db.cli("leads", "import", leads_file(write_csv, "crm.csv", carol_row))[0] == 0
    dupe = ["Z9", "2025-06-01", "C", "Contact", "CAROL@acme.com", "+1 555 0100", "Acme Inc", "West", "COO"]
    later = leads_file(write_csv, "list.csv", dupe)
    code, _, err = db.cli("leads", "import", later)
    assert code == 0, err
    carol = lead_by_email(db, "carol@acme.com")
    assert (carol.external_id, carol.first_name, carol.company) == ("A1", "Carol", "Acme")
    assert carol.created_at.date().isoformat() == "2024-01-10"  # keeps its place in the queue
    assert (carol.phone, carol.title) == ("+1 555 0100", "COO")  # blanks filled
    with session_scope(db.engine) as s:
        notes = s.scalars(
            select(Activity.note).where(Activity.lead_id == carol.id, Activity.kind == "note")
        ).all()
        territory = s.scalar(select(Territory.name).where(Territory.id == carol.territory_id))
    assert territory == "East"
    assert (
        len(notes) == 1
        and "first_name C (kept Carol)" in notes[0]
        and "company Acme Inc (kept Acme)" in notes[0]
    )

    assert db.cli("leads", "import", str(later))[0] == 0  # the same file again: no second note
    with session_scope(db.engine) as s:
        assert len(s.scalars(select(Activity).where(Activity.lead_id == carol.id)).all()) == 1


def test_configured_fields_take_the_duplicates_value(db: Database, write_csv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "leadflow.toml"
    config.write_text('[imports.merge]\noverwrite = ["title", "company"]\n', encoding="utf-8")
    first = leads_file(
        write_csv, "a.csv", ["A1", "2024-01-10", "Carol", "Contact", "carol@acme.com", "", "Acme", "", "CTO"]
    )
    later = leads_file(write_csv, "b.csv", ["", "", "C", "", "carol@acme.com", "", "Acme Inc", "", "CEO"])
    assert db.cli("--config", str(config), "leads", "import", first)[0] == 0
    assert db.cli("--config", str(config), "leads", "import", later)[0] == 0
    carol = lead_by_email(db, "carol@acme.com")
    assert (carol.first_name, carol.company, carol.title) == ("Carol", "Acme Inc", "CEO")


def test_the_files_own_record_updates_its_lead(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    """A row found by its external id is that lead's record in the CRM, re-exported: it updates."""
    carol = ["A1", "2024-01-10", "Carol", "Contact", "carol@acme.com", "", "Acme", "", "CTO"]
    assert db.cli("leads", "import", leads_file(write_csv, "a.csv", carol))[0] == 0
    assert db.cli("leads", "import", leads_file(write_csv, "b.csv", [*carol[:-1], "CEO"]))[0] == 0
    assert lead_by_email(db, "carol@acme.com").title == "CEO"


def test_an_external_id_reused_for_another_person_is_reported_not_merged(  # type: ignore[no-untyped-def]
    db: Database, write_csv, tmp_path: Path
) -> None:
    carol = ["7", "2024-01-10", "Carol", "Contact", "carol@acme.com", "+1 555 0100", "Acme", "", ""]
    assert db.cli("leads", "import", leads_file(write_csv, "a.csv", carol))[0] == 0
    mallory = ["7", "2025-02-01", "Mallory", "Mole", "mallory@evil.example", "+1 555 0199", "Evil", "", ""]
    report = tmp_path / "r.csv"
    code, _, err = db.cli(
        "leads", "import", leads_file(write_csv, "b.csv", mallory), "--rejects", str(report)
    )
    assert code == 0, err
    carol = lead_by_email(db, "carol@acme.com")
    assert (carol.first_name, carol.phone, carol.company) == ("Carol", "+1 555 0100", "Acme")
    with report.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["line"], r["column"], r["severity"]) for r in rows] == [("2", "external_id", "error")]
    assert "another lead's" in rows[0]["reason"]
