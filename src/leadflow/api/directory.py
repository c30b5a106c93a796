"""Teams, sources and territories: what routing and the reports are organised by; and when
reps are away."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.encoders import jsonable_encoder
from pydantic import Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadflow.deps import SessionDep, SettingsDep, allow
from leadflow.errors import NotFound
from leadflow.ledger.find import find_rep
from leadflow.models import Rep, Source, Team, Territory, User, rep_territories, utcnow
from leadflow.pipeline.absences import list_absences, set_away, set_back
from leadflow.schemas import Input

router = APIRouter(prefix="/v1", tags=["directory"])
Manager = Annotated[User, Depends(allow("admin", "manager"))]


@router.get("/teams")
def teams(session: SessionDep, settings: SettingsDep, user: Manager) -> list[dict[str, Any]]:
    """Teams with their manager, active reps and routing policy (a manager sees their own)."""
    query = (
        select(Team.id, Team.name, Team.manager, func.count(Rep.id).filter(Rep.active.is_(True)))
        .outerjoin(Rep, Rep.team_id == Team.id)
        .group_by(Team.id, Team.name, Team.manager)
        .order_by(Team.name)
    )
    if user.role == "manager":
        query = query.where(Team.id == user.team_id)
    rows = []
    for team_id, name, manager, active in session.execute(query).all():
        routing = settings.routing.for_team(name)
        rows.append({"id": team_id, "name": name, "manager": manager, "active_reps": active,
                     "routing": routing.model_dump(mode="json")})  # fmt: skip
    return rows


@router.get("/sources")
def sources(session: SessionDep, user: Manager) -> list[dict[str, Any]]:
    """Lead sources with their channel and cost per lead."""
    found = session.scalars(select(Source).order_by(Source.name)).all()
    table: list[dict[str, Any]] = jsonable_encoder(
        [{"id": s.id, "name": s.name, "channel": s.channel, "cost_per_lead": s.cost_per_lead} for s in found]
    )
    return table


@router.get("/territories")
def territories(session: SessionDep, user: Manager) -> list[dict[str, Any]]:
    """Territories and how many active reps cover each."""
    covered = (
        select(rep_territories.c.territory_id, func.count().label("reps"))
        .join(Rep, Rep.id == rep_territories.c.rep_id)
        .where(Rep.active.is_(True))
        .group_by(rep_territories.c.territory_id)
        .subquery()
    )
    query = (
        select(Territory.id, Territory.name, func.coalesce(covered.c.reps, 0))
        .outerjoin(covered, covered.c.territory_id == Territory.id)
        .order_by(Territory.name)
    )
    return [{"id": i, "name": n, "active_reps": c} for i, n, c in session.execute(query).all()]


class AwayIn(Input):
    """An out-of-office window: no leads from ``starts_at`` (default: now) until ``ends_at``."""

    starts_at: datetime | None = None
    ends_at: datetime
    reason: str | None = Field(default=None, max_length=200)


Worker = Annotated[User, Depends(allow("admin", "manager", "rep"))]


def _rep_in_reach(session: Session, user: User, rep_ref: str) -> Rep:
    """The rep a path names, if the caller may mark them away: an admin anyone, a manager their
    team, a rep themself; else 404 (whether the rep exists is not the caller's to learn)."""
    try:
        rep = find_rep(session, ref=rep_ref)
    except NotFound:
        rep = None
    allowed = rep is not None and (
        user.role == "admin"
        or (user.role == "manager" and user.team_id is not None and rep.team_id == user.team_id)
        or (user.role == "rep" and user.rep_id == rep.id)
    )
    if rep is None or not allowed:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such rep")
    return rep


def _absences(session: Session, rep: Rep) -> dict[str, Any]:
    windows = list_absences(session, rep=rep)
    return {
        "rep": rep.external_id,
        "away": jsonable_encoder(
            [{"starts_at": a.starts_at, "ends_at": a.ends_at, "reason": a.reason} for a in windows]
        ),
    }


@router.get("/reps/{rep_ref}/away")
def absences(rep_ref: str, session: SessionDep, user: Worker) -> dict[str, Any]:
    """The rep's current and coming absences."""
    return _absences(session, _rep_in_reach(session, user, rep_ref))


@router.post("/reps/{rep_ref}/away", status_code=status.HTTP_201_CREATED)
def away(rep_ref: str, window: AwayIn, session: SessionDep, user: Worker) -> dict[str, Any]:
    """Mark the rep away (admins; managers for their team; reps for themselves): routing gives
    them no leads in the window."""
    rep = _rep_in_reach(session, user, rep_ref)
    set_away(
        session, rep=rep, starts_at=window.starts_at or utcnow(), ends_at=window.ends_at, reason=window.reason
    )
    return _absences(session, rep)


@router.post("/reps/{rep_ref}/back")
def back(rep_ref: str, session: SessionDep, user: Worker) -> dict[str, Any]:
    """The rep is back now: their current absence ends (planned ones stay)."""
    rep = _rep_in_reach(session, user, rep_ref)
    set_back(session, rep=rep)
    return _absences(session, rep)
