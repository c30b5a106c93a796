"""When reps are away: routing gives an away rep no leads (routing/roster.py reads these)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from leadflow.errors import InvalidChange
from leadflow.models import Absence, Rep, utcnow


def set_away(
    session: Session, *, rep: Rep, starts_at: datetime, ends_at: datetime, reason: str | None = None
) -> Absence:
    """Record that the rep is away from ``starts_at`` until ``ends_at``; the same window again
    (an import run twice) is not recorded twice."""
    if ends_at <= starts_at:
        raise InvalidChange(
            f"an absence must end after it starts ({starts_at:%Y-%m-%d %H:%M} to {ends_at:%Y-%m-%d %H:%M})"
        )
    same = session.scalars(
        select(Absence).where(
            Absence.rep_id == rep.id, Absence.starts_at == starts_at, Absence.ends_at == ends_at
        )
    ).first()
    if same is not None:
        same.reason = reason or same.reason
        return same
    absence = Absence(rep_id=rep.id, starts_at=starts_at, ends_at=ends_at, reason=reason)
    session.add(absence)
    session.flush()
    return absence


def set_back(session: Session, *, rep: Rep, now: datetime | None = None) -> int:
    """The rep is back now: a current absence ends now (later ones stay); how many ended."""
    now = now or utcnow()
    ended = session.execute(
        update(Absence)
        .where(Absence.rep_id == rep.id, Absence.starts_at <= now, Absence.ends_at > now)
        .values(ends_at=now)
    )
    return int(getattr(ended, "rowcount", 0))


def cancel_absences(session: Session, *, rep: Rep, now: datetime | None = None) -> int:
    """Forget the rep's absences that have not started yet; how many."""
    gone = session.execute(
        delete(Absence).where(Absence.rep_id == rep.id, Absence.starts_at > (now or utcnow()))
    )
    return int(getattr(gone, "rowcount", 0))


def list_absences(session: Session, *, rep: Rep | None = None, now: datetime | None = None) -> list[Absence]:
    """Current and coming absences (of one rep, or everyone's), soonest first."""
    query = select(Absence).where(Absence.ends_at > (now or utcnow())).order_by(Absence.starts_at)
    if rep is not None:
        query = query.where(Absence.rep_id == rep.id)
    return list(session.scalars(query))
