"""Goals on the metrics that drive results, and coaching notes: set, list, follow up."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadflow.errors import InvalidChange
from leadflow.models import GOAL_METRICS, CoachingNote, Goal, Rep, Team, utcnow


def month_of(day: date) -> tuple[date, date]:
    """The month that contains ``day`` as a goal's period: [its 1st, the next month's 1st)."""
    first = day.replace(day=1)
    return first, date(first.year + first.month // 12, first.month % 12 + 1, 1)


def set_goal(
    session: Session,
    *,
    metric: str,
    target: float,
    starts_on: date,
    ends_on: date,
    by: str,
    rep: Rep | None = None,
    team: Team | None = None,
) -> Goal:
    """Set a rep's (or a team's) target on a metric for a period; the same goal set again for the
    same period replaces its target."""
    if metric not in GOAL_METRICS:
        raise InvalidChange(f"unknown metric {metric!r}; metrics: {', '.join(GOAL_METRICS)}")
    if (rep is None) == (team is None):
        raise InvalidChange("a goal is for one rep or one team")
    if ends_on <= starts_on:
        raise InvalidChange(f"a goal's period must end after it starts ({starts_on} to {ends_on})")
    if target < 0 or (metric in ("leads_worked", "conversion") and target > 1):
        raise InvalidChange(
            f"{metric} target {target:g} is out of range" + (" (a share: 0 to 1)" if target > 1 else "")
        )
    whose = Goal.rep_id == rep.id if rep is not None else Goal.team_id == (team.id if team else None)
    same = select(Goal).where(
        Goal.metric == metric, Goal.starts_on == starts_on, Goal.ends_on == ends_on, whose
    )
    found = session.scalars(same).first()
    if found is not None:
        found.target, found.set_by = target, by
        return found
    goal = Goal(
        rep_id=rep.id if rep else None,
        team_id=team.id if team else None,
        metric=metric,
        target=target,
        starts_on=starts_on,
        ends_on=ends_on,
        set_by=by,
        created_at=utcnow(),
    )
    session.add(goal)
    session.flush()
    return goal


def goals_in_force(session: Session, *, on: date, team_id: int | None = None) -> list[Goal]:
    """Goals whose period contains ``on`` (of one team's reps and the team itself, or all)."""
    query = select(Goal).where(Goal.starts_on <= on, Goal.ends_on > on).order_by(Goal.id)
    if team_id is not None:
        members = select(Rep.id).where(Rep.team_id == team_id)
        query = query.where((Goal.team_id == team_id) | Goal.rep_id.in_(members))
    return list(session.scalars(query))


def add_note(
    session: Session,
    *,
    rep: Rep,
    discussed: str,
    by: str,
    action: str | None = None,
    follow_up_on: date | None = None,
    at: datetime | None = None,
) -> CoachingNote:
    """Record a coaching session with a rep: what was discussed, the action agreed, when to follow up."""
    if not discussed.strip():
        raise InvalidChange("say what was discussed")
    note = CoachingNote(
        rep_id=rep.id,
        author=by,
        at=at or utcnow(),
        discussed=discussed.strip(),
        action=(action or "").strip() or None,
        follow_up_on=follow_up_on,
    )
    session.add(note)
    session.flush()
    return note


def notes_of(session: Session, *, rep: Rep) -> list[CoachingNote]:
    """A rep's coaching notes, newest first."""
    return list(
        session.scalars(
            select(CoachingNote).where(CoachingNote.rep_id == rep.id).order_by(CoachingNote.at.desc())
        )
    )


def follow_ups_due(
    session: Session, *, on: date, team_id: int | None = None
) -> list[tuple[CoachingNote, Rep]]:
    """Open follow-ups due on or before ``on`` (of one team's reps, or all), soonest first: the
    manager's coaching queue."""
    query = (
        select(CoachingNote, Rep)
        .join(Rep, Rep.id == CoachingNote.rep_id)
        .where(CoachingNote.follow_up_on <= on, CoachingNote.done_at.is_(None))
        .order_by(CoachingNote.follow_up_on, CoachingNote.id)
    )
    if team_id is not None:
        query = query.where(Rep.team_id == team_id)
    return [(note, rep) for note, rep in session.execute(query).all()]


def close_follow_up(session: Session, *, note: CoachingNote, at: datetime | None = None) -> None:
    """The follow-up happened: it leaves the queue."""
    note.done_at = at or utcnow()
