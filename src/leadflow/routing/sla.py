"""First-touch deadlines: escalate, then reassign untouched leads, counting the miss.

A lead's deadline is its grade's number of working hours (leadflow.toml ``[sla]``) after it was
assigned, counted in the owner's time zone. Past the deadline the owner is escalated (once);
``reassign_after_hours`` working hours later the lead goes to the next eligible rep, never back
to one who already missed it, and the miss stays on the first rep's record. A lead is passed on
at most ``max_passes`` times; after that it stays with its owner and is marked capped.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from leadflow.db import is_sqlite
from leadflow.errors import Conflict
from leadflow.models import Assignment, Lead, Rep, SlaEvent, utcnow
from leadflow.notify.outbox import LeadEvent, queue_notifications
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


@dataclass(frozen=True)
class Untouched:
    """An assigned lead nobody has contacted yet, and when its first touch is due."""

    lead_id: int
    owner_id: int
    assignment_id: int
    grade: str | None
    assigned_at: datetime
    timezone: str
    deadline: datetime
    hours: WorkingHours  # the owner's own working hours, else the SLA's


def untouched_leads(
    session: Session,
    *,
    settings: Settings,
    owner_in: tuple[int, ...] | None = None,
    lead_ids: list[int] | None = None,
    lock: bool = False,
) -> list[Untouched]:
    """Assigned leads not yet touched (of these reps, or these leads, or all), each with its
    first-touch deadline, soonest first; with ``lock``, on PostgreSQL, rows another worker holds
    are skipped."""
    sla = settings.sla
    current = (
        select(Assignment.lead_id, func.max(Assignment.id).label("assignment_id"))
        .where(Assignment.ended_at.is_(None), Assignment.rep_id.is_not(None))
        .group_by(Assignment.lead_id)
        .subquery()
    )
    query = (
        select(
            Lead.id,
            Lead.grade,
            Lead.assigned_at,
            Lead.owner_id,
            Rep.timezone,
            current.c.assignment_id,
            Rep.working_hours,
        )
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
    if owner_in is not None:
        query = query.where(Lead.owner_id.in_(owner_in))
    if lead_ids is not None:
        query = query.where(Lead.id.in_(lead_ids))
    if lock and not is_sqlite(session):
        query = query.with_for_update(skip_locked=True, of=Lead)
    found = []
    own: dict[str, WorkingHours] = {}
    for lead_id, grade, assigned_at, owner_id, timezone, assignment_id, rep_hours in session.execute(query):
        hours = sla.first_touch_hours.get(grade or "D", sla.first_touch_hours.get("D", 24))
        zone = timezone or "UTC"
        working = sla.working_hours
        if rep_hours:
            key = json.dumps(rep_hours, sort_keys=True)
            working = own.get(key) or own.setdefault(key, WorkingHours.model_validate(rep_hours))
        deadline = add_working_hours(assigned_at, hours, working, zone)
        found.append(Untouched(lead_id, owner_id, assignment_id, grade, assigned_at, zone, deadline, working))
    return sorted(found, key=lambda u: u.deadline)


Event = tuple[int, str, int | None, datetime]  # assignment, kind, rep, when


def _sla_history(session: Session, lead_ids: list[int]) -> dict[int, list[Event]]:
    """Each lead's SLA events: (assignment, kind, rep, when)."""
    history: dict[int, list[Event]] = defaultdict(list)
    for start in range(0, len(lead_ids), 5000):
        events = select(
            SlaEvent.lead_id, SlaEvent.assignment_id, SlaEvent.kind, SlaEvent.rep_id, SlaEvent.at
        ).where(SlaEvent.lead_id.in_(lead_ids[start : start + 5000]))
        for lead_id, assignment_id, kind, rep_id, at in session.execute(events).all():
            history[lead_id].append((assignment_id, kind, rep_id, at))
    return history


def _pass_on(
    session: Session,
    *,
    settings: Settings,
    lead: Untouched,
    past: list[Event],
    now: datetime,
    by: str,
    cause: str,
) -> int | None:
    """Take the lead from its owner (the miss stays on the owner's record) and route it to the
    next eligible rep, never one who already missed it; the new rep, or None if it queued."""
    session.add(
        SlaEvent(
            lead_id=lead.lead_id, assignment_id=lead.assignment_id, rep_id=lead.owner_id, kind="reassigned",
            deadline=lead.deadline, at=now,
        )
    )  # fmt: skip
    missed = {rep for _, kind, rep, _ in past if kind == "reassigned" and rep is not None} | {lead.owner_id}
    session.execute(update(Assignment).where(Assignment.id == lead.assignment_id).values(ended_at=now))
    session.execute(update(Lead).where(Lead.id == lead.lead_id).values(owner_id=None, assigned_at=None))
    session.flush()
    plan = route_leads(
        session,
        settings=settings,
        lead_ids=[lead.lead_id],
        now=now,
        by=by,
        exclude=dict.fromkeys(missed, "missed the first-touch deadline on this lead"),
        cause=cause,
    )
    return plan.decisions[0].rep_id if plan.decisions else None


def reassign_untouched(
    session: Session, *, settings: Settings, lead_id: int, by: str, now: datetime | None = None
) -> int | None:
    """A manager's reassignment of an untouched lead from the SLA queue: passed on as the sweep
    would, whether or not its deadline has come; the new rep, or None if it queued."""
    now = now or utcnow()
    found = untouched_leads(session, settings=settings, lead_ids=[lead_id], lock=True)
    if not found:
        raise Conflict("this lead is not waiting for its first touch (touched, closed or unassigned)")
    owner = session.get(Rep, found[0].owner_id)
    return _pass_on(
        session,
        settings=settings,
        lead=found[0],
        past=_sla_history(session, [lead_id])[lead_id],
        now=now,
        by=by,
        cause=f"reassigned by {by} from {owner.external_id if owner else 'its owner'}, untouched",
    )


def sla_sweep(
    session: Session, *, settings: Settings, now: datetime | None = None, by: str = "sla"
) -> SweepResult:
    """Escalate and reassign every assigned lead whose first-touch deadline has passed."""
    now = now or utcnow()
    sla = settings.sla
    result = SweepResult()
    overdue = [u for u in untouched_leads(session, settings=settings, lock=True) if now >= u.deadline]
    history = _sla_history(session, [u.lead_id for u in overdue])
    owners = dict(
        session.execute(
            select(Rep.id, Rep.external_id).where(Rep.id.in_({u.owner_id for u in overdue}))
        ).all()
    )
    for lead in overdue:
        past = history[lead.lead_id]
        escalated = [
            at for assignment, kind, _, at in past if assignment == lead.assignment_id and kind == "escalated"
        ]
        kinds = {kind for assignment, kind, _, _ in past if assignment == lead.assignment_id}
        passes = sum(1 for _, kind, _, _ in past if kind == "reassigned")
        if not escalated:
            step = "escalated"
        elif kinds & {"reassigned", "capped"} or now < add_working_hours(
            max(lead.deadline, escalated[0]), sla.reassign_after_hours, lead.hours, lead.timezone
        ):
            continue  # already dealt with, or still in the grace the escalation gave the owner
        else:
            step = "capped" if passes >= sla.max_passes else "reassigned"
        if step == "reassigned":
            cause = (
                f"reassigned: {owners.get(lead.owner_id, 'its owner')} missed the first-touch deadline "
                f"({lead.deadline:%Y-%m-%d %H:%M} UTC) and the {sla.reassign_after_hours:g} working hours "
                f"after the escalation of {escalated[0]:%Y-%m-%d %H:%M}"
            )
            result.reassigned[lead.lead_id] = _pass_on(
                session, settings=settings, lead=lead, past=past, now=now, by=by, cause=cause
            )
            continue
        session.add(
            SlaEvent(
                lead_id=lead.lead_id, assignment_id=lead.assignment_id, rep_id=lead.owner_id, kind=step,
                deadline=lead.deadline, at=now,
            )
        )  # fmt: skip
        (result.escalated if step == "escalated" else result.capped).append(lead.lead_id)
    session.flush()
    deadlines = {u.lead_id: u for u in overdue}
    events = [
        LeadEvent("lead.escalated", lead_id, deadlines[lead_id].owner_id,
                  {"deadline": deadlines[lead_id].deadline.isoformat(timespec="minutes") + "Z"})
        for lead_id in result.escalated
    ]  # fmt: skip
    queue_notifications(session, settings=settings, events=events, now=now)
    return result
