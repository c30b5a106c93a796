"""Reports as JSON, the same services the CLI and the dashboard use (managers and admins)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.encoders import jsonable_encoder

from leadflow.analytics.cohorts import cohorts_report
from leadflow.analytics.conversion import conversion_report
from leadflow.analytics.dimensions import DIMENSIONS
from leadflow.analytics.funnel import funnel_report
from leadflow.analytics.query.filters import ReportFilter
from leadflow.analytics.reps import reps_report
from leadflow.analytics.sources import sources_report
from leadflow.deps import SessionDep, allow, scoped_filter
from leadflow.models import User

router = APIRouter(prefix="/v1/reports", tags=["reports"])
Viewer = Annotated[User, Depends(allow("admin", "manager"))]


def filters(user: Viewer, session: SessionDep, asked: Annotated[ReportFilter, Depends()]) -> ReportFilter:
    """The report filters from the query string (since, until, team, territory, source,
    lead_type), held to what the user may see."""
    return scoped_filter(session, user=user, filters=asked)


Filters = Annotated[ReportFilter, Depends(filters)]


@router.get("/conversion")
def conversion(
    session: SessionDep,
    chosen: Filters,
    by: Annotated[list[str], Query(description=f"Dimensions: {', '.join(DIMENSIONS)}")] = ["rep"],  # noqa: B006
) -> list[dict[str, Any]]:
    """Leads, worked, won, lost, open and conversion with its 95% interval, by the dimensions."""
    return conversion_report(session, by=by, filters=chosen).to_dicts()


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
