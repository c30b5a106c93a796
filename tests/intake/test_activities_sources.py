"""Activities and sources import: first touch derived, unknown leads set aside, re-import a no-op."""

from __future__ import annotations

from datetime import datetime

import polars as pl
from sqlalchemy import func, select

from leadflow.db import session_scope
from leadflow.models import Activity, Lead, Source
from tests.conftest import Database


def test_activities_import_derives_first_touch_and_is_idempotent(db: Database, write_csv, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert (
        db.cli(
            "reps",
            "import",
            str(write_csv("r.csv", [["external_id", "name", "email"], ["r1", "Ann Lee", "ann@x.com"]])),
        )[0]
        == 0
    )
    leads = write_csv(
        "l.csv", [["external_id", "company", "owner"], ["L1", "Acme", "ann@x.com"], ["L2", "Beta", "r1"]]
    )
    assert db.cli("leads", "import", str(leads))[0] == 0
    activities = write_csv(
        "a.csv",
        [
            ["lead", "rep", "at", "kind", "outcome", "note"],
            ["L1", "Ann Lee", "2026-03-02 10:00", "note", "", "read their site"],
            ["L1", "ann lee", "2026-03-02 11:30", "Call", "No Answer", ""],
            ["L1", "r1", "2026-03-01 09:15", "email", "replied", ""],
            ["L2", "r1", "2026-03-05", "meeting", "completed", ""],
            ["L9", "r1", "2026-03-05", "call", "", ""],
            ["L2", "Zed", "2026-03-05", "call", "", ""],
            ["L2", "r1", "yesterday", "call", "", ""],
        ],
    )
    report = tmp_path / "rejects.csv"
    code, _, err = db.cli("activities", "import", str(activities), "--rejects", str(report))
    assert code == 0, err
    rejects = pl.read_csv(report)
    assert dict(zip(rejects["line"], rejects["column"], strict=True)) == {6: "lead", 7: "rep", 8: "at"}
    with session_scope(db.engine) as s:
        assert s.scalar(select(func.count()).select_from(Activity)) == 4
        first = dict(s.execute(select(Lead.external_id, Lead.first_touch_at)).all())
        assert first["L1"] == datetime(2026, 3, 1, 9, 15)  # the email, not the later note
        assert first["L2"] == datetime(2026, 3, 5)
        kinds = s.scalars(select(Activity.outcome).where(Activity.kind == "call")).all()
        assert kinds == ["no answer"]
    code, _, _ = db.cli("activities", "import", str(activities), "--rejects", str(report))
    assert code == 0
    with session_scope(db.engine) as s:
        assert s.scalar(select(func.count()).select_from(Activity)) == 4


def test_sources_import_upserts_by_name(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    first = write_csv(
        "s.csv",
        [
            ["name", "channel", "cost_per_lead", "spend"],
            ["Web Form", "inbound", "$35", ""],
            ["Trade show", "event", "", "15,000"],
        ],
    )
    assert db.cli("sources", "import", str(first))[0] == 0
    again = write_csv(
        "s2.csv", [["name", "channel", "cost_per_lead", "spend"], ["web  form", "inbound", "40", ""]]
    )
    code, _, err = db.cli("sources", "import", str(again))
    assert code == 0, err
    with session_scope(db.engine) as s:
        sources = {
            x.name: (x.channel, x.cost_per_lead, x.monthly_spend) for x in s.scalars(select(Source)).all()
        }
    assert sources == {"Web Form": ("inbound", 40.0, None), "Trade show": ("event", None, 15000.0)}
