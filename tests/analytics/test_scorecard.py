"""Goals, the scorecard and coaching notes on a demo company: the scorecard's actuals are the
conversion report's figures over the same dates, and a note's follow-up reaches the queue."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from leadflow.analytics.scorecard import scorecard
from leadflow.db import session_scope
from leadflow.models import Lead, Rep, utcnow
from tests.api.conftest import Api, api
from tests.conftest import Database

__all__ = ["api"]


@pytest.fixture
def demo(db: Database) -> Database:
    code, _, err = db.cli("demo", "--leads", "3000", "--reps", "6", "--seed", "3")
    assert code == 0, err
    return db


def rows(out: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(out)))


def test_the_scorecard_agrees_with_the_conversion_report(demo: Database) -> None:
    today = utcnow().date()
    since, until = (today - timedelta(days=200)).isoformat(), (today + timedelta(days=30)).isoformat()
    with session_scope(demo.engine) as s:
        rep = s.scalars(select(Rep).order_by(Rep.id)).first()
        assert rep is not None
        name = rep.name
    for metric, target in (
        ("conversion", "0.2"),
        ("wins", "40"),
        ("leads_worked", "0.9"),
        ("revenue", "100000"),
    ):
        code, _, err = demo.cli("goals", "set", name, "--metric", metric, "--target", target,
                                "--since", since, "--until", until)  # fmt: skip
        assert code == 0, err
    code, out, err = demo.cli("report", "scorecard", "--rep", name, "--format", "csv")
    assert code == 0, err
    card = {r["metric"]: r for r in rows(out)}
    by_rep = demo.cli(
        "report", "conversion", "--by", "rep", "--since", since, "--until", until, "--format", "csv"
    )
    report = [r for r in rows(by_rep[1]) if r["rep"] == name]
    won = sum(float(r["won"]) for r in report)
    closed = sum(float(r["closed"]) for r in report)
    worked = sum(float(r["worked"]) for r in report)
    leads = sum(float(r["leads"]) for r in report)
    assert float(card["wins"]["actual"]) == pytest.approx(won)
    assert float(card["conversion"]["actual"]) == pytest.approx(won / closed)
    assert float(card["conversion"]["low"]) < won / closed < float(card["conversion"]["high"])
    assert float(card["leads_worked"]["actual"]) == pytest.approx(worked / leads)
    with session_scope(demo.engine) as s:  # revenue, independently: the won amounts of the rep's leads
        revenue = s.scalar(
            select(func.sum(Lead.amount)).join(Rep, Rep.id == Lead.owner_id).where(
                Rep.name == name, Lead.stage == "won", Lead.created_at >= datetime.fromisoformat(since),
                Lead.created_at < datetime.fromisoformat(until),
            )
        )  # fmt: skip
    assert float(card["revenue"]["actual"]) == pytest.approx(revenue)
    # counts are projected to the period's end by the time elapsed; on track compares that with the target
    elapsed = float(card["wins"]["elapsed"])
    assert float(card["wins"]["projected"]) == pytest.approx(won / elapsed)
    assert (card["wins"]["on_track"] == "true") == (won / elapsed >= 40)


def test_a_teams_goal_and_bad_goals(demo: Database) -> None:
    today = utcnow().date()
    code, _, err = demo.cli("goals", "set", "--team", "north america TEAM", "--metric", "first_touch_hours",
                              "--target", "24")  # fmt: skip
    assert code == 0, err  # team names in any case
    with session_scope(demo.engine) as s:
        card = scorecard(s, on=datetime.combine(today, datetime.min.time()) + timedelta(hours=12))
    assert card.filter(card["level"] == "team")["metric"].to_list() == ["first_touch_hours"]
    assert (
        demo.cli("goals", "set", "--team", "North America team", "--metric", "happiness", "--target", "1")[0]
        != 0
    )
    assert (
        demo.cli("goals", "set", "--team", "North America team", "--metric", "conversion", "--target", "3")[0]
        != 0
    )
    assert demo.cli("goals", "set", "--metric", "wins", "--target", "3")[0] != 0  # nobody named


def test_a_notes_follow_up_reaches_the_managers_queue_until_done(demo: Database) -> None:
    with session_scope(demo.engine) as s:
        name = s.scalars(select(Rep.name).order_by(Rep.id)).first()
    due, later = date.today() - timedelta(days=1), date.today() + timedelta(days=7)
    # the demo's manager already has follow-ups of their own
    seeded = {q["id"] for q in rows(demo.cli("notes", "due", "--format", "csv")[1])}
    had = len(rows(demo.cli("notes", "list", str(name), "--format", "csv")[1]))
    assert demo.cli("notes", "add", str(name), "--discussed", "first touches over a day",
                    "--action", "calls 9 to 10", "--follow-up", due.isoformat())[0] == 0  # fmt: skip
    assert (
        demo.cli(
            "notes", "add", str(name), "--discussed", "pipeline review", "--follow-up", later.isoformat()
        )[0]
        == 0
    )
    queue = [q for q in rows(demo.cli("notes", "due", "--format", "csv")[1]) if q["id"] not in seeded]
    assert [(q["rep"], q["discussed"], q["action"]) for q in queue] == [
        (name, "first touches over a day", "calls 9 to 10")
    ]
    assert len(rows(demo.cli("notes", "list", str(name), "--format", "csv")[1])) == had + 2
    assert demo.cli("notes", "done", queue[0]["id"])[0] == 0
    assert {q["id"] for q in rows(demo.cli("notes", "due", "--format", "csv")[1])} == seeded
    assert demo.cli("notes", "add", str(name), "--discussed", "  ")[0] != 0  # nothing said: refused


def test_the_api_keeps_goals_and_notes_within_each_roles_reach(api: Api) -> None:
    today = utcnow().date()
    goal = {"rep": "ann", "metric": "wins", "target": 5, "starts_on": (today - timedelta(days=3)).isoformat(),
            "ends_on": (today + timedelta(days=27)).isoformat()}  # fmt: skip
    assert (
        api.client.post("/v1/goals", json={**goal, "rep": "wes"}, headers=api.as_("east")).status_code == 404
    )
    assert api.client.post("/v1/goals", json=goal, headers=api.as_("ann")).status_code == 403
    assert api.client.post("/v1/goals", json=goal, headers=api.as_("east")).status_code == 201
    assert (
        api.client.post("/v1/goals", json={**goal, "metric": "mood"}, headers=api.as_("east")).status_code
        == 422
    )
    mine = api.client.get("/v1/scorecard", headers=api.as_("ann")).json()
    assert [(r["who"], r["metric"], r["target"]) for r in mine] == [("Ann Lee", "wins", 5.0)]
    assert api.client.get("/v1/scorecard", headers=api.as_("wes")).json() == []
    note = {"discussed": "slow first touches", "follow_up_on": (today - timedelta(days=1)).isoformat()}
    assert api.client.post("/v1/reps/ann/notes", json=note, headers=api.as_("ann")).status_code == 403
    assert api.client.post("/v1/reps/ann/notes", json=note, headers=api.as_("east")).status_code == 201
    assert [n["discussed"] for n in api.client.get("/v1/reps/ann/notes", headers=api.as_("ann")).json()] == [
        "slow first touches"
    ]
    assert api.client.get("/v1/reps/ann/notes", headers=api.as_("wes")).status_code == 404
    due = api.client.get("/v1/notes/due", headers=api.as_("east")).json()
    assert [(n["rep"], n["discussed"]) for n in due] == [("ann", "slow first touches")]


def test_report_filters_name_things_in_any_case_and_refuse_what_does_not_exist(demo: Database) -> None:
    code, out, _ = demo.cli(
        "report", "conversion", "--by", "source", "--team", "  emea   TEAM ", "--format", "json"
    )
    assert code == 0
    emea = json.loads(out)
    assert emea and all(
        isinstance(r["leads"], int) and isinstance(r["won"], int) for r in emea
    )  # 343, not 343.0 (by rep, the demo's split credit makes some counts fractional)
    code, out, err = demo.cli("report", "conversion", "--by", "rep", "--team", "Nowhere team")
    assert (
        code != 0 and "no team 'Nowhere team'; teams: APAC team, EMEA team" in err
    )  # not an all-zero report
    assert demo.cli("report", "reps", "--source", "Carrier pigeon")[0] != 0
    assert demo.cli("report", "conversion", "--lead-type", "telepathy")[0] != 0
    assert "leads,worked,won" in demo.cli("report", "conversion", "--by", "source", "--format", "csv")[1]
    first = demo.cli("report", "conversion", "--by", "source", "--format", "csv")[1].splitlines()[1]
    assert ".0," not in first


def test_what_moved_names_the_habits_that_changed(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    """Ann worked every lead within an hour in the spring; in the summer half her leads went
    untouched and the rest waited six hours. Bo did not change."""
    from leadflow.analytics.scorecard import what_moved

    assert db.cli("reps", "import", str(write_csv("reps.csv", [["external_id", "name"], ["ann", "Ann"],
                                                                ["bo", "Bo"]])))[0] == 0  # fmt: skip
    header = ["external_id", "created_at", "email", "owner", "assigned_at", "first_touch_at"]
    rows = []
    for i in range(20):
        for rep in ("ann", "bo"):
            spring, summer = f"2026-04-{1 + i:02d} 09:00", f"2026-07-{1 + i:02d} 09:00"
            rows.append(
                [f"{rep}-s{i}", spring, f"{rep}s{i}@x.example", rep, spring, f"2026-04-{1 + i:02d} 10:00"]
            )
            late = (
                ""
                if rep == "ann" and i % 2
                else (f"2026-07-{1 + i:02d} 15:00" if rep == "ann" else f"2026-07-{1 + i:02d} 10:00")
            )
            rows.append([f"{rep}-u{i}", summer, f"{rep}u{i}@x.example", rep, summer, late])
    assert db.cli("leads", "import", str(write_csv("leads.csv", [header, *rows])))[0] == 0
    with session_scope(db.engine) as s:
        moved = dict(
            what_moved(s, past=(datetime(2026, 4, 1), datetime(2026, 5, 1)),
                       recent=(datetime(2026, 7, 1), datetime(2026, 8, 1))).iter_rows()
        )  # fmt: skip
    assert moved["Ann"] == "worked 100% of their leads, now 50%; first touch took 1.0 h (median), now 6.0 h"
    assert moved["Bo"].startswith("worked share, speed to first touch and activities per win held")


def test_a_reps_trend_is_the_conversion_report_month_by_month(demo: Database) -> None:
    with session_scope(demo.engine) as s:
        rep = s.scalars(select(Rep).order_by(Rep.id)).first()
        assert rep is not None
        name = rep.name
    code, out, err = demo.cli("report", "trend", name, "--months", "4", "--format", "csv")
    assert code == 0, err
    trend = [r for r in rows(out) if r["metric"] == "conversion"]
    assert len(trend) == 4
    report = [
        r
        for r in rows(demo.cli("report", "conversion", "--by", "rep,month", "--format", "csv")[1])
        if r["rep"] == name
    ]
    for row in trend:
        month = [r for r in report if r["month"] == row["month"]]  # both channels, as a goal counts
        closed = sum(float(r["closed"]) for r in month)
        if closed:
            assert float(row["rep"]) == pytest.approx(sum(float(r["won"]) for r in month) / closed)
        else:
            assert row["rep"] == ""
        # months younger than the usual time to close say so, in both reports
        assert all(r["maturing"] == row["maturing"] for r in month)
    assert trend[-1]["maturing"] == "true"  # this month is never comparable yet
    assert demo.cli("report", "trend", "nobody at all")[0] != 0


def test_a_trend_of_a_ledger_that_ended_long_ago_shows_its_last_months(db: Database) -> None:
    code, _, err = db.cli(
        "demo", "--leads", "2000", "--reps", "4", "--seed", "5", "--as-of", "2025-06-15T12:00"
    )
    assert code == 0, err
    with session_scope(db.engine) as s:
        name = s.scalars(select(Rep.name).order_by(Rep.id)).first()
    trend = rows(db.cli("report", "trend", str(name), "--months", "3", "--format", "csv")[1])
    assert sorted({r["month"] for r in trend}) == ["2025-04", "2025-05", "2025-06"]
    assert any(r["rep"] for r in trend if r["metric"] == "leads_worked")  # figures, not an empty today
