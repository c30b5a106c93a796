"""The partner channel: issue leads to a distributor, record its aggregate results, and see its
conversion and ROI beside the direct reps (admins and managers)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from fastapi.encoders import jsonable_encoder
from pydantic import Field

from leadflow.access.service import record_write
from leadflow.analytics.partners import partners_report
from leadflow.api.reports import Filters
from leadflow.deps import SessionDep, allow, lead_or_404
from leadflow.models import User
from leadflow.pipeline.partners import issue_to_partner, record_partner_report
from leadflow.schemas import Input

router = APIRouter(prefix="/v1", tags=["partners"])
Manager = Annotated[User, Depends(allow("admin", "manager"))]


class IssueIn(Input):
    """To which distributor, and why."""

    partner: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=500)


@router.post("/leads/{lead_ref}/partner", status_code=status.HTTP_201_CREATED)
def issue(lead_ref: str, order: IssueIn, session: SessionDep, user: Manager) -> dict[str, Any]:
    """Issue a lead to a partner: it leaves the reps' queue and counts for the partner."""
    lead = lead_or_404(session, user=user, ref=lead_ref)
    before = {"owner_id": lead.owner_id}
    assignment = issue_to_partner(
        session, lead=lead, partner=order.partner, by=user.email, reason=order.reason
    )
    record_write(
        session, actor=user.email, action="issue to partner", entity="lead", entity_id=str(lead.id),
        before=before, after={"partner": order.partner, "reason": order.reason},
    )  # fmt: skip
    return {"lead": lead.id, "partner": order.partner, "issued_at": assignment.at.isoformat()}


class PartnerReportIn(Input):
    """A partner's results for a period [period_start, period_end): they report in aggregate."""

    period_start: datetime
    period_end: datetime
    leads_worked: int = Field(ge=0, le=100_000_000)
    won: int = Field(ge=0, le=100_000_000)
    revenue: float = Field(ge=0, le=1e15)


@router.post("/partners/{partner}/reports", status_code=status.HTTP_201_CREATED)
def report(partner: str, body: PartnerReportIn, session: SessionDep, user: Manager) -> dict[str, Any]:
    """Record a partner's results for a period (the same period again replaces it)."""
    kept = record_partner_report(
        session, partner=partner, period_start=body.period_start, period_end=body.period_end,
        leads_worked=body.leads_worked, won=body.won, revenue=body.revenue,
    )  # fmt: skip
    record_write(
        session, actor=user.email, action="partner report", entity="partner", entity_id=partner,
        before=None, after=jsonable_encoder(body.model_dump()),
    )  # fmt: skip
    return {"partner": partner, "id": kept.id, **jsonable_encoder(body.model_dump())}


@router.get("/reports/partners")
def partners(session: SessionDep, chosen: Filters, user: Manager) -> list[dict[str, Any]]:
    """Each partner beside the direct reps: issued, worked, won, revenue, conversion (won / issued)
    with its 95% interval, cost and ROI."""
    table: list[dict[str, Any]] = jsonable_encoder(partners_report(session, filters=chosen).to_dicts())
    return table
