"""The partner channel in the dashboard: each distributor beside the direct reps (won per lead
issued with its interval, cost, ROI), and their aggregate results recorded from the page."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from leadflow.access.service import record_write
from leadflow.analytics.partners import partners_report
from leadflow.deps import SessionDep
from leadflow.errors import LeadflowError
from leadflow.models import Partner
from leadflow.pipeline.partners import record_partner_report
from leadflow.web import charts
from leadflow.web.auth import ManagerVisitor, check_csrf
from leadflow.web.pages import PeriodDep
from leadflow.web.render import page, see_other

router = APIRouter(prefix="/web", include_in_schema=False)


@router.get("/partners", response_class=HTMLResponse)
def partners(request: Request, session: SessionDep, who: ManagerVisitor, period: PeriodDep) -> Response:
    """Partners and direct reps on one measure: won per lead issued."""
    table = partners_report(session, filters=period.filter)
    measured = table.filter(table["conversion"].is_not_null()).height
    return page(
        request, "partners.html", user=who.user, csrf=who.csrf, active="partners", rows=table.to_dicts(),
        chart=charts.channel_conversion(table) if measured else None,
        names=list(session.scalars(select(Partner.name).order_by(Partner.name))),
        message=request.query_params.get("message"), error=request.query_params.get("error"),
        **period.context(),
    )  # fmt: skip


@router.post("/partners/report")
def post_report(
    session: SessionDep, who: ManagerVisitor,
    csrf: Annotated[str, Form(max_length=100)],
    partner: Annotated[str, Form(min_length=1, max_length=200)],
    since: Annotated[date, Form()],
    until: Annotated[date, Form()],
    worked: Annotated[int, Form(ge=0, le=100_000_000)],
    won: Annotated[int, Form(ge=0, le=100_000_000)],
    revenue: Annotated[float, Form(ge=0, le=1e15, allow_inf_nan=False)],
) -> Response:  # fmt: skip
    """Record a partner's results for a period (the same period again replaces it)."""
    check_csrf(who, csrf)
    name = " ".join(partner.split())
    try:
        record_partner_report(
            session, partner=name, period_start=datetime.combine(since, time()),
            period_end=datetime.combine(until, time()), leads_worked=worked, won=won, revenue=revenue,
        )  # fmt: skip
    except LeadflowError as exc:
        text = {"error": f"Not recorded: {exc}."}
    else:
        record_write(
            session, actor=who.user.email, action="partner report", entity="partner", entity_id=name,
            before=None, after={"from": str(since), "until": str(until), "worked": worked, "won": won,
                                "revenue": revenue},
        )  # fmt: skip
        text = {"message": f"Recorded {name}: {worked} worked, {won} won, ${revenue:,.0f}."}
    return see_other("/web/partners", **text)
