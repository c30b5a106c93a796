"""First-touch deadlines: escalate, then reassign untouched leads, counting the miss.

A lead's deadline is its grade's number of working hours (leadflow.toml ``[sla]``) after it was
assigned, counted in the owner's time zone. Past the deadline the owner is escalated (once);
``reassign_after_hours`` working hours later the lead goes to the next eligible rep, never back
to one who already missed it, and the miss stays on the first rep's record. A lead is passed on
at most ``max_passes`` times; after that it stays with its owner and is marked capped.
"""

from __future__ import annotations

from collections import defaultdict
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
    overdue = []
    for lead_id, grade, assigned_at, owner_id, timezone, assignment_id in session.execute(query).all():
        hours = sla.first_touch_hours.get(grade or "D", sla.first_touch_hours.get("D", 24))
        deadline = add_working_hours(assigned_at, hours, sla.working_hours, timezone or "UTC")
        if now >= deadline:
            overdue.append((lead_id, owner_id, timezone or "UTC", assignment_id, deadline))
    history: dict[int, list[tuple[int, str, int | None]]] = defaultdict(list)
    ids = [row[0] for row in overdue]
    for start in range(0, len(ids), 5000):
        events = select(SlaEvent.lead_id, SlaEvent.assignment_id, SlaEvent.kind, SlaEvent.rep_id).where(
            SlaEvent.lead_id.in_(ids[start : start + 5000])
        )
        for lead_id, assignment_id, kind, rep_id in session.execute(events).all():
            history[lead_id].append((assignment_id, kind, rep_id))

    for lead, owner, timezone, current_id, due in overdue:
        past = history[lead]
        kinds = {kind for assignment, kind, _ in past if assignment == current_id}
        passes = sum(1 for _, kind, _ in past if kind == "reassigned")
        if "escalated" not in kinds:
            step = "escalated"
        elif kinds & {"reassigned", "capped"} or now < add_working_hours(
            due, sla.reassign_after_hours, sla.working_hours, timezone
        ):
            continue  # already dealt with, or still in the grace after the escalation
        else:
            step = "capped" if passes >= sla.max_passes else "reassigned"
        session.add(
            SlaEvent(lead_id=lead, assignment_id=current_id, rep_id=owner, kind=step, deadline=due, at=now)
        )
        if step == "escalated":
            result.escalated.append(lead)
        elif step == "capped":
            result.capped.append(lead)
        else:
            missed = {rep for _, kind, rep in past if kind == "reassigned" and rep is not None} | {owner}
            session.execute(update(Assignment).where(Assignment.id == current_id).values(ended_at=now))
            session.execute(update(Lead).where(Lead.id == lead).values(owner_id=None, assigned_at=None))
            session.flush()
            plan = route_leads(
                session,
                settings=settings,
                lead_ids=[lead],
                now=now,
                by=by,
                exclude=dict.fromkeys(missed, "missed the first-touch deadline on this lead"),
            )
            result.reassigned[lead] = plan.decisions[0].rep_id if plan.decisions else None
    session.flush()
    return result
