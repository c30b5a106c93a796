"""Teams, sources and territories: what routing and the reports are organised by; and when
reps are away."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from fastapi.encoders import jsonable_encoder
from pydantic import Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadflow.deps import SessionDep, SettingsDep, allow, rep_or_404
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
    return _absences(session, rep_or_404(session, user=user, ref=rep_ref, themself=True))


@router.post("/reps/{rep_ref}/away", status_code=status.HTTP_201_CREATED)
def away(rep_ref: str, window: AwayIn, session: SessionDep, user: Worker) -> dict[str, Any]:
    """Mark the rep away (admins; managers for their team; reps for themselves): routing gives
    them no leads in the window."""
    rep = rep_or_404(session, user=user, ref=rep_ref, themself=True)
    set_away(
        session, rep=rep, starts_at=window.starts_at or utcnow(), ends_at=window.ends_at, reason=window.reason
    )
    return _absences(session, rep)


@router.post("/reps/{rep_ref}/back")
def back(rep_ref: str, session: SessionDep, user: Worker) -> dict[str, Any]:
    """The rep is back now: their current absence ends (planned ones stay)."""
    rep = rep_or_404(session, user=user, ref=rep_ref, themself=True)
    set_back(session, rep=rep)
    return _absences(session, rep)
