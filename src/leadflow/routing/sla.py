"""First-touch deadlines: escalate, then reassign untouched leads, counting the miss.

A lead's deadline is its grade's number of working hours (leadflow.toml ``[sla]``) after it was
assigned, counted in the owner's time zone. Past the deadline the owner is escalated (once);
``reassign_after_hours`` working hours later the lead goes to the next eligible rep, never back
to one who already missed it, and the miss stays on the first rep's record. A lead is passed on
at most ``max_passes`` times; after that it stays with its owner and is marked capped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from leadflow.db import is_sqlite
from leadflow.models import Assignment, Lead, Rep, SlaEvent, utcnow
from leadflow.routing.engine import route_leads
from leadflow.settings import Settings, WorkingHours

UNTOUCHED_STAGES = ("inquiry", "lead", "qualified")


def add_working_hours(
    start: datetime, hours: float, schedule: WorkingHours, timezone: str = "UTC"
) -> datetime:
    """The moment ``hours`` of working time after ``start`` (naive UTC in, naive UTC out)."""
    zone = ZoneInfo(timezone)
    moment = start.replace(tzinfo=UTC).astimezone(zone)
    remaining = timedelta(hours=hours)
    while True:
        midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        if moment.weekday() in schedule.days:
            opens = midnight + timedelta(hours=schedule.start_hour)
            closes = midnight + timedelta(hours=schedule.end_hour)
            moment = max(moment, opens)
            if moment < closes:
                if remaining <= closes - moment:
                    return (moment + remaining).astimezone(UTC).replace(tzinfo=None)
                remaining -= closes - moment
        moment = midnight + timedelta(days=1)


@dataclass
class SweepResult:
    """What one sweep did, by lead id."""

    escalated: list[int] = field(default_factory=list)
    reassigned: dict[int, int | None] = field(default_factory=dict)  # lead -> new rep (None: queued)
    capped: list[int] = field(default_factory=list)


def sla_sweep(
    session: Session, *, settings: Settings, now: datetime | None = None, by: str = "sla"
) -> SweepResult:
    """Escalate and reassign every assigned lead whose first-touch deadline has passed."""
    now = now or utcnow()
    sla = settings.sla
    current = (
        select(Assignment.lead_id, func.max(Assignment.id).label("assignment_id"))
        .where(Assignment.ended_at.is_(None), Assignment.rep_id.is_not(None))
        .group_by(Assignment.lead_id)
        .subquery()
    )
    query = (
        select(Lead.id, Lead.grade, Lead.assigned_at, Lead.owner_id, Rep.timezone, current.c.assignment_id)
        .join(Rep, Rep.id == Lead.owner_id)
        .join(current, current.c.lead_id == Lead.id)
        .where(
            Lead.first_touch_at.is_(None),
            Lead.assigned_at.is_not(None),
            Lead.stage.in_(UNTOUCHED_STAGES),
            Lead.self_sourced.is_(False),
        )
        .order_by(Lead.assigned_at)
    )
    if not is_sqlite(session):
        query = query.with_for_update(skip_locked=True, of=Lead)
    result = SweepResult()
    for lead_id, grade, assigned_at, owner_id, timezone, assignment_id in session.execute(query).all():
        hours = sla.first_touch_hours.get(grade or "D", sla.first_touch_hours.get("D", 24))
        deadline = add_working_hours(assigned_at, hours, sla.working_hours, timezone or "UTC")
        if now < deadline:
            continue
        kinds = set(
            session.scalars(select(SlaEvent.kind).where(SlaEvent.assignment_id == assignment_id)).all()
        )
        if "escalated" not in kinds:
            session.add(
                SlaEvent(
                    lead_id=lead_id,
                    assignment_id=assignment_id,
                    rep_id=owner_id,
                    kind="escalated",
                    deadline=deadline,
                    at=now,
                )
            )
            result.escalated.append(lead_id)
            continue
        if kinds & {"reassigned", "capped"}:
            continue
        reassign_at = add_working_hours(
            deadline, sla.reassign_after_hours, sla.working_hours, timezone or "UTC"
        )
        if now < reassign_at:
            continue
        passes = session.scalar(
            select(func.count()).where(SlaEvent.lead_id == lead_id, SlaEvent.kind == "reassigned")
        )
        if (passes or 0) >= sla.max_passes:
            session.add(
                SlaEvent(
                    lead_id=lead_id,
                    assignment_id=assignment_id,
                    rep_id=owner_id,
                    kind="capped",
                    deadline=deadline,
                    at=now,
                )
            )
            result.capped.append(lead_id)
            continue
        session.add(
            SlaEvent(
                lead_id=lead_id,
                assignment_id=assignment_id,
                rep_id=owner_id,
                kind="reassigned",
                deadline=deadline,
                at=now,
            )
        )
        missed = set(
            session.scalars(
                select(SlaEvent.rep_id).where(SlaEvent.lead_id == lead_id, SlaEvent.kind == "reassigned")
            ).all()
        )
        missed.add(owner_id)
        session.execute(update(Assignment).where(Assignment.id == assignment_id).values(ended_at=now))
        session.execute(update(Lead).where(Lead.id == lead_id).values(owner_id=None, assigned_at=None))
        session.flush()
        plan = route_leads(
            session,
            settings=settings,
            lead_ids=[lead_id],
            now=now,
            by=by,
            exclude={
                rep: "missed the first-touch deadline on this lead" for rep in missed if rep is not None
            },
        )
        result.reassigned[lead_id] = plan.decisions[0].rep_id if plan.decisions else None
    session.flush()
    return result
