"""What each role may see: a rep their own leads, a manager their team's (and the unassigned
ones, which the team routes), an admin everything. The API and the dashboard both ask here."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadflow.models import Lead, Rep, Team, User


def own_team(session: Session, *, user: User) -> Team | None:
    """The team a manager is held to (None for a manager without one, and for other roles)."""
    if user.role != "manager" or user.team_id is None:
        return None
    return session.get(Team, user.team_id)


def owners_in_scope(session: Session, *, user: User) -> tuple[int, ...] | None:
    """The reps whose leads this user may see (None: every rep's)."""
    if user.role == "admin":
        return None
    if user.role == "rep":
        return (user.rep_id,) if user.rep_id is not None else ()
    if user.role == "manager" and user.team_id is not None:
        return tuple(session.scalars(select(Rep.id).where(Rep.team_id == user.team_id)))
    return ()


def sees_unassigned(user: User) -> bool:
    """Whether this user sees the leads nobody owns yet."""
    return user.role in ("admin", "manager")


def can_see_lead(session: Session, *, user: User, lead: Lead) -> bool:
    """Whether this user may see this lead."""
    if lead.owner_id is None:
        return sees_unassigned(user)
    owners = owners_in_scope(session, user=user)
    return owners is None or lead.owner_id in owners
