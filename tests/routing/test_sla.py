"""First-touch deadlines in working hours; escalation, reassignment, misses on record, a cap."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from leadflow.db import session_scope
from leadflow.models import Assignment, Lead, Rep, SlaEvent
from leadflow.pipeline.activities import log_activity
from leadflow.routing.engine import route_leads
from leadflow.routing.sla import add_working_hours, sla_sweep
from leadflow.settings import Settings, Sla, WorkingHours
from tests.conftest import Database

NINE_TO_FIVE = WorkingHours(start_hour=9, end_hour=17, days=[0, 1, 2, 3, 4])
MONDAY = datetime(2026, 5, 11, 9, 0)


def test_deadlines_count_working_hours_only_in_the_reps_time_zone() -> None:
    friday_4pm = datetime(2026, 5, 15, 16, 0)
    assert add_working_hours(friday_4pm, 4, NINE_TO_FIVE) == datetime(2026, 5, 18, 12, 0)  # Monday noon
    assert add_working_hours(datetime(2026, 5, 16, 3, 0), 1, NINE_TO_FIVE) == datetime(2026, 5, 18, 10, 0)
    assert add_working_hours(MONDAY, 16, NINE_TO_FIVE) == datetime(2026, 5, 12, 17, 0)
    # 9:00 in New York is 13:00 UTC in May: a lead at 12:00 UTC waits for the rep's morning
    assert add_working_hours(datetime(2026, 5, 11, 12, 0), 1, NINE_TO_FIVE, "America/New_York") == datetime(
        2026, 5, 11, 14, 0
    )


def test_sweep_escalates_then_reassigns_away_from_the_rep_who_missed_and_caps(
    db: Database, write_csv
) -> None:  # type: ignore[no-untyped-def]
    reps = [
        ["external_id", "name", "territory", "capacity"],
        ["ann", "Ann", "East", "50"],
        ["bo", "Bo", "East", "50"],
    ]
    leads = [
        ["external_id", "created_at", "territory"],
        ["L1", "2026-05-11", "East"],
        ["L2", "2026-05-11", "East"],
    ]
    assert db.cli("reps", "import", str(write_csv("r.csv", reps)))[0] == 0
    assert db.cli("leads", "import", str(write_csv("l.csv", leads)))[0] == 0
    settings = Settings(
        sla=Sla(first_touch_hours={"D": 1}, reassign_after_hours=2, max_passes=1, working_hours=NINE_TO_FIVE)
    )
    with session_scope(db.engine) as s:
        route_leads(s, settings=settings, now=MONDAY, by="test")
        l2 = s.scalars(select(Lead).where(Lead.external_id == "L2")).one()
        log_activity(
            s, lead=l2, rep=None, kind="call", outcome="connected", at=MONDAY + timedelta(minutes=20)
        )

    def sweep(at: datetime):  # type: ignore[no-untyped-def]
        with session_scope(db.engine) as s:
            return sla_sweep(s, settings=settings, now=at)

    assert sweep(MONDAY + timedelta(minutes=50)).escalated == []  # not due yet
    first = sweep(MONDAY + timedelta(hours=1, minutes=5))
    assert len(first.escalated) == 1  # L1 only: L2 was touched in time
    assert sweep(MONDAY + timedelta(hours=2)).reassigned == {}  # escalated, not yet reassigned
    second = sweep(MONDAY + timedelta(hours=3, minutes=5))
    with session_scope(db.engine) as s:
        l1 = s.scalars(select(Lead).where(Lead.external_id == "L1")).one()
        owner = s.get(Rep, l1.owner_id)
        events = s.execute(
            select(SlaEvent.kind, Rep.external_id).join(Rep, Rep.id == SlaEvent.rep_id).order_by(SlaEvent.id)
        ).all()
    assert second.reassigned == {l1.id: owner.id} and owner.external_id == "bo"  # ann had it and missed
    assert [tuple(e) for e in events] == [("escalated", "ann"), ("reassigned", "ann")]  # the miss is ann's
    # bo misses too: escalated, then capped (one pass allowed); the lead stays with bo
    sweep(MONDAY + timedelta(hours=4, minutes=10))
    capped = sweep(MONDAY + timedelta(hours=7))
    assert capped.capped == [l1.id] and capped.reassigned == {}
    code, out, err = db.cli("sla", "sweep")
    assert code == 0 and "capped 0" in out, err


def test_a_late_escalation_still_gives_the_owner_their_grace_and_the_reassignment_says_why(
    db: Database, write_csv
) -> None:  # type: ignore[no-untyped-def]
    """The first sweep in a week escalates a lead long past its deadline; an immediate second
    sweep must not take it away: the owner gets reassign_after_hours working hours from the
    escalation, and the new owner's record says it came from an SLA miss."""
    reps = [
        ["external_id", "name", "territory", "capacity"],
        ["ann", "Ann", "East", "50"],
        ["bo", "Bo", "East", "50"],
    ]
    leads = [["external_id", "created_at", "territory"], ["L1", "2026-05-11", "East"]]
    assert db.cli("reps", "import", str(write_csv("r.csv", reps)))[0] == 0
    assert db.cli("leads", "import", str(write_csv("l.csv", leads)))[0] == 0
    settings = Settings(
        sla=Sla(first_touch_hours={"D": 1}, reassign_after_hours=4, working_hours=NINE_TO_FIVE)
    )
    with session_scope(db.engine) as s:
        route_leads(s, settings=settings, now=MONDAY, by="test")
    first_sweep = datetime(2026, 5, 16, 10, 0)  # Saturday, five days after the deadline
    with session_scope(db.engine) as s:
        assert sla_sweep(s, settings=settings, now=first_sweep).escalated != []
    with session_scope(db.engine) as s:
        assert sla_sweep(s, settings=settings, now=first_sweep + timedelta(minutes=5)).reassigned == {}
    with session_scope(db.engine) as s:  # Monday 12:59: 3 h 59 of the 4 working hours have passed
        assert sla_sweep(s, settings=settings, now=datetime(2026, 5, 18, 12, 59)).reassigned == {}
    with session_scope(db.engine) as s:
        done = sla_sweep(s, settings=settings, now=datetime(2026, 5, 18, 13, 0))
        assert list(done.reassigned) != []
        lead = s.scalars(select(Lead).where(Lead.external_id == "L1")).one()
        reason = s.scalars(
            select(Assignment.reason).where(Assignment.lead_id == lead.id, Assignment.ended_at.is_(None))
        ).one()
    assert reason.startswith("reassigned: ") and "missed the first-touch deadline" in reason
    assert "after the escalation of 2026-05-16 10:00" in reason
