"""Reps away: from the command line, a reps CSV's out-of-office columns and the API; routing
gives an away rep nothing, and `reps list` shows capacity used and who is away."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import select

from leadflow.db import session_scope
from leadflow.models import Absence, AuditEntry, Lead, Rep, utcnow
from tests.api.conftest import Api, api
from tests.conftest import Database

__all__ = ["api"]


def absences(db: Database, rep: str) -> list[tuple[str | None, bool]]:
    """(reason, current) of the rep's absences."""
    now = utcnow()
    with session_scope(db.engine) as s:
        rows = s.execute(
            select(Absence.reason, Absence.starts_at, Absence.ends_at).join(Rep).where(Rep.external_id == rep)
        ).all()
    return [(reason, start <= now < end) for reason, start, end in rows]


def test_away_and_back_from_the_command_line(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    reps = [["external_id", "name", "capacity"], ["ann", "Ann Lee", "10"], ["bo", "Bo", "10"]]
    assert db.cli("reps", "import", str(write_csv("reps.csv", reps)))[0] == 0
    until = (utcnow() + timedelta(days=7)).date().isoformat()
    code, out, err = db.cli("reps", "away", "Ann Lee", "--until", until, "--reason", "holiday")
    assert code == 0, err
    assert "Ann Lee is away" in out
    assert absences(db, "ann") == [("holiday", True)]
    leads = [["external_id", "email"], *[[f"L{i}", f"l{i}@x.example"] for i in range(4)]]
    assert db.cli("leads", "import", str(write_csv("leads.csv", leads)))[0] == 0
    assert db.cli("route")[0] == 0
    listed = {
        r["external_id"]: r for r in csv.DictReader(io.StringIO(db.cli("reps", "list", "--format", "csv")[1]))
    }
    assert listed["bo"]["this period"] == "4/10" and listed["bo"]["left"] == "6"
    assert listed["ann"]["this period"] == "0/10" and listed["ann"]["away until"].startswith(until)
    assert "capacity counts the leads issued since" in db.cli("reps", "list")[1]

    code, out, _ = db.cli("reps", "back", "ann")
    assert code == 0 and "Ann Lee is back" in out
    assert absences(db, "ann") == [("holiday", False)]
    assert db.cli("reps", "away", "ann")[0] != 0  # --until is required


def test_a_reps_file_brings_its_out_of_office_columns(db: Database, write_csv, tmp_path) -> None:  # type: ignore[no-untyped-def]
    soon, later = (utcnow() + timedelta(days=d) for d in (1, 9))
    rows = [["User ID", "Full Name", "Out of office from", "Out of office until", "Absence reason"],
            ["ann", "Ann", f"{soon:%Y-%m-%d}", f"{later:%Y-%m-%d}", "training"],
            ["bo", "Bo", "", "", ""],
            ["cy", "Cy", f"{later:%Y-%m-%d}", f"{soon:%Y-%m-%d}", ""]]  # fmt: skip
    report = tmp_path / "r.csv"
    code, out, err = db.cli("reps", "import", str(write_csv("team.csv", rows)), "--rejects", str(report))
    assert code == 0, err
    assert "Out of office until" in out and "away_until" in out  # the column is understood, not dropped
    assert (
        absences(db, "ann") == [("training", False)] and absences(db, "bo") == [] and absences(db, "cy") == []
    )
    assert "before the absence starts" in report.read_text(encoding="utf-8")
    assert db.cli("reps", "import", str(write_csv("team.csv", rows)))[0] == 0  # again: not twice
    assert len(absences(db, "ann")) == 1


def test_the_api_marks_reps_away_within_each_roles_reach(api: Api) -> None:
    until = (utcnow() + timedelta(days=3)).isoformat()
    body = {"ends_at": until, "reason": "conference"}
    assert (
        api.client.post("/v1/reps/wes/away", json=body, headers=api.as_("east")).status_code == 404
    )  # not theirs
    assert api.client.post("/v1/reps/wes/away", json=body, headers=api.as_("ann")).status_code == 404
    assert api.client.post("/v1/reps/ann/away", json=body, headers=api.as_("intake")).status_code == 403
    mine = api.client.post("/v1/reps/ann/away", json=body, headers=api.as_("ann"))
    assert mine.status_code == 201 and [a["reason"] for a in mine.json()["away"]] == ["conference"]
    assert api.client.post("/v1/reps/ann/away", json={"ends_at": "2020-01-01T00:00:00"},
                           headers=api.as_("east")).status_code == 422  # fmt: skip
    back = api.client.post("/v1/reps/ann/back", headers=api.as_("east"))
    assert back.status_code == 200 and back.json()["away"] == []


def test_a_reps_capacity_and_standing_change_from_the_command_line_and_are_audited(
    db: Database,
    write_csv,  # type: ignore[no-untyped-def]
) -> None:
    reps = [["external_id", "name", "capacity"], ["ann", "Ann Lee", "10"], ["bo", "Bo", "10"]]
    assert db.cli("reps", "import", str(write_csv("reps.csv", reps)))[0] == 0
    code, out, err = db.cli("--as", "ops@example.com", "reps", "set", "ann", "--capacity", "25", "--inactive")
    assert code == 0, err
    assert "capacity 10 -> 25" in out and "active True -> False" in out
    with session_scope(db.engine) as s:
        ann = s.scalars(select(Rep).where(Rep.external_id == "ann")).one()
        assert (ann.capacity, ann.active) == (25, False)
        entry = s.scalars(select(AuditEntry).where(AuditEntry.entity == "rep")).one()
        assert entry.actor == "ops@example.com" and entry.entity_id == "ann"
        assert (entry.before, entry.after) == (
            {"capacity": 10, "active": True},
            {"capacity": 25, "active": False},
        )
    # an inactive rep takes no new leads
    leads = [["external_id", "email"], *[[f"L{i}", f"l{i}@x.example"] for i in range(4)]]
    assert db.cli("leads", "import", str(write_csv("leads.csv", leads)))[0] == 0
    assert db.cli("route")[0] == 0
    with session_scope(db.engine) as s:
        owners = set(s.scalars(select(Rep.external_id).join(Lead, Lead.owner_id == Rep.id)))
    assert owners == {"bo"}
    assert "nothing to change" in db.cli("reps", "set", "ann", "--inactive")[1]
    code, _, err = db.cli("reps", "set", "ann", "--capacity", "-3")
    assert code != 0 and "0 or more" in err
    assert db.cli("reps", "set", "ann")[0] == 2  # nothing asked
    assert db.cli("reps", "set", "nobody", "--active")[0] != 0
