"""Teams, sources and territories: what routing and the reports are organised by."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.encoders import jsonable_encoder
from sqlalchemy import func, select

from leadflow.deps import SessionDep, SettingsDep, allow
from leadflow.models import Rep, Source, Team, Territory, User, rep_territories

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
