"""Reports as JSON, the same services the CLI and the dashboard use (managers and admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.encoders import jsonable_encoder
from sqlalchemy.orm import Session

from leadflow.access.scope import own_team
from leadflow.analytics.ledger import DIMENSIONS, ReportFilter
from leadflow.analytics.service import (
    cohorts_report,
    conversion_report,
    funnel_report,
    reps_report,
    sources_report,
)
from leadflow.api.deps import SessionDep, allow
from leadflow.models import User

router = APIRouter(prefix="/v1/reports", tags=["reports"])
Viewer = Annotated[User, Depends(allow("admin", "manager"))]


def scoped_filter(
    session: Session,
    *,
    user: User,
    since: datetime | None = None,
    until: datetime | None = None,
    team: str | None = None,
    territory: str | None = None,
    source: str | None = None,
    lead_type: str | None = None,
) -> ReportFilter:
    """Report filters for this user: a manager sees their own team only (another team: 404)."""
    if user.role == "manager":
        own = own_team(session, user=user)
        if own is None or (team is not None and team != own.name):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such team")
        team = own.name
    return ReportFilter(since, until, team, territory, source, lead_type)


def filters(
    user: Viewer,
    session: SessionDep,
    since: datetime | None = None,
    until: datetime | None = None,
    team: str | None = None,
    territory: str | None = None,
    source: str | None = None,
    lead_type: str | None = None,
) -> ReportFilter:
    """The report filters from the query string."""
    return scoped_filter(
        session, user=user, since=since, until=until, team=team, territory=territory, source=source,
        lead_type=lead_type,
    )  # fmt: skip


Filters = Annotated[ReportFilter, Depends(filters)]


@router.get("/conversion")
def conversion(
    session: SessionDep,
    chosen: Filters,
    by: Annotated[list[str], Query(description=f"Dimensions: {', '.join(DIMENSIONS)}")] = ["rep"],  # noqa: B006
) -> list[dict[str, Any]]:
    """Leads, worked, won, lost, open and conversion with its 95% interval, by the dimensions."""
    try:
        table = conversion_report(session, by=by, filters=chosen)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return table.to_dicts()


@router.get("/reps")
def reps(session: SessionDep, chosen: Filters) -> dict[str, Any]:
    """Weak leads or weak closer, lagging flags, and whether reps differ beyond chance."""
    report = reps_report(session, filters=chosen)
    spread = report.spread
    return {
        "reps": report.table.to_dicts(),
        "heterogeneity": {
            "statistic": spread.statistic,
            "dof": spread.dof,
            "p_value": spread.p_value,
            "noise_share": spread.noise_share,
        },
        "recent_start": report.recent_start,
    }


@router.get("/cohorts")
def cohorts(session: SessionDep, chosen: Filters) -> dict[str, Any]:
    """Share won within months of creation, per monthly cohort and overall."""
    report = cohorts_report(session, filters=chosen)
    return {"as_of": report.as_of, "summary": report.sentence() if report.table.height else None,
            "cohorts": report.table.to_dicts()}  # fmt: skip


@router.get("/sources")
def sources(session: SessionDep, chosen: Filters) -> list[dict[str, Any]]:
    """Source ROI with conversion intervals and the stopped-working flag."""
    table: list[dict[str, Any]] = jsonable_encoder(sources_report(session, filters=chosen).table.to_dicts())
    return table


@router.get("/funnel")
def funnel(session: SessionDep, chosen: Filters) -> dict[str, Any]:
    """Stage ratios, speed to lead, capacity use, activities per won deal, never-worked leads."""
    return funnel_report(session, filters=chosen).as_dict()
