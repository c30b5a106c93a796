"""Each rep's load per day, which capacity sums, stays equal to a count of their owner
assignments, whichever path wrote them: import, routing, manual assignment, the SLA sweep, the demo."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from leadflow.db import session_scope
from leadflow.ledger.find import find_lead, find_rep
from leadflow.models import Assignment, RepLoad
from leadflow.pipeline.assignments import assign_lead
from leadflow.routing.engine import route_leads
from leadflow.routing.sla import sla_sweep
from leadflow.settings import Settings, Sla
from tests.conftest import Database

MONDAY = datetime(2026, 5, 11, 9, 0)


def _load_and_count(db: Database) -> tuple[dict[tuple[int, str], int], dict[tuple[int, str], int]]:
    with session_scope(db.engine) as s:
        load = {
            (r, str(d)): n for r, d, n in s.execute(select(RepLoad.rep_id, RepLoad.day, RepLoad.issued)).all()
        }
        counted: dict[tuple[int, str], int] = {}
        owners = select(Assignment.rep_id, Assignment.at).where(
            Assignment.role == "owner", Assignment.rep_id.is_not(None)
        )
        for rep_id, at in s.execute(owners).all():
            counted[(rep_id, str(at.date()))] = counted.get((rep_id, str(at.date())), 0) + 1
    return load, counted


def test_every_writer_keeps_the_load_equal_to_the_assignments(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    reps = [
        ["external_id", "name", "territory", "capacity"],
        ["ann", "Ann", "East", "50"],
        ["bo", "Bo", "East", "50"],
    ]
    leads = [["external_id", "created_at", "territory", "owner", "assigned_at"],
             ["I1", "2026-05-01", "East", "ann", "2026-05-01 10:00"], ["I2", "2026-05-02", "East", "bo", ""],
             *[[f"Q{i}", "2026-05-10", "East", "", ""] for i in range(6)]]  # fmt: skip
    assert db.cli("reps", "import", str(write_csv("r.csv", reps)))[0] == 0
    assert db.cli("leads", "import", str(write_csv("l.csv", leads)))[0] == 0
    settings = Settings(sla=Sla(first_touch_hours={"D": 1}, reassign_after_hours=0))
    with session_scope(db.engine) as s:
        assert route_leads(s, settings=settings, now=MONDAY).count(None) == 6
        assign_lead(s, lead=find_lead(s, ref="Q0"), rep=find_rep(s, ref="bo"), by="boss", reason="by hand")
    with session_scope(db.engine) as s:
        sla_sweep(s, settings=settings, now=MONDAY + timedelta(days=1))  # escalate
        sla_sweep(s, settings=settings, now=MONDAY + timedelta(days=2))  # and pass untouched leads on
    load, counted = _load_and_count(db)
    assert load == counted and sum(load.values()) > 9, sum(load.values())  # reassignments counted too
    with session_scope(db.engine) as s:
        assert s.scalar(select(func.sum(RepLoad.issued))) == sum(counted.values())


def test_the_demo_company_keeps_the_load_too(db: Database) -> None:
    assert db.cli("demo", "--leads", "1500", "--reps", "5", "--seed", "4")[0] == 0
    load, counted = _load_and_count(db)
    assert load == counted and len(load) > 100
