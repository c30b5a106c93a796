"""The manager's pages: overview, reps, sources, funnel and time to close, the SLA queue, routing."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

import polars as pl
from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadflow.access.scope import own_team, owners_in_scope
from leadflow.access.service import record_write
from leadflow.analytics.cohorts import HORIZONS_MONTHS, cohorts_report
from leadflow.analytics.funnel import capacity_report, funnel_report
from leadflow.analytics.overview import overview_report
from leadflow.analytics.query.filters import ReportFilter, latest_date
from leadflow.analytics.reps import reps_report
from leadflow.analytics.sources import sources_report
from leadflow.deps import SessionDep, SettingsDep, scoped_filter
from leadflow.models import Lead, Rep, Team, User, utcnow
from leadflow.routing.sla import reassign_untouched, untouched_leads
from leadflow.routing.worklist import BACKLOG_AFTER
from leadflow.simulate.backward import BACKTEST_POLICIES, TooLittleHistory, backtest_policies
from leadflow.web import charts
from leadflow.web.auth import ManagerVisitor, check_csrf
from leadflow.web.render import LeadId, page

router = APIRouter(prefix="/web", include_in_schema=False)
SLA_PAGE = 100  # leads a page of the SLA queue shows, soonest due first


class Period:
    """The period and team a manager's page shows, from the query string."""

    def __init__(
        self, session: Session, user: User, since: date | None, until: date | None, team: str | None
    ):
        self.since, self.until = since, until
        self.teams = (
            [t for t in session.scalars(select(Team.name).order_by(Team.name))]
            if user.role == "admin"
            else []
        )
        self.team = team or None
        asked = ReportFilter(
            since=datetime.combine(since, time()) if since else None,
            until=datetime.combine(until, time()) if until else None,
            team=self.team,
        )
        self.filter: ReportFilter = scoped_filter(session, user=user, filters=asked)

    def context(self) -> dict[str, Any]:
        return {"since": self.since, "until": self.until, "team": self.team, "teams": self.teams}


Since = Annotated[date | None, Query()]
Until = Annotated[date | None, Query()]
TeamName = Annotated[str | None, Query(max_length=200)]


def period_of(
    session: SessionDep, who: ManagerVisitor, since: Since = None, until: Until = None, team: TeamName = None
) -> Period:
    """The period and team from the query string, held to the manager's own team."""
    return Period(session, who.user, since, until, team)


PeriodDep = Annotated[Period, Depends(period_of)]


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, session: SessionDep, who: ManagerVisitor, period: PeriodDep) -> Response:
    """Leads in, worked, won, the conversion trend, speed to lead, and unworked leads' cost."""
    report = overview_report(session, filters=period.filter)
    months = report.months.filter(pl.col("channel") == "distributed").sort("month")
    return page(
        request, "overview.html", user=who.user, csrf=who.csrf, active="overview",
        totals=report.totals.to_dicts(), funnel=report.funnel, as_of=report.funnel.as_of,
        volume_chart=charts.monthly_volume(months) if months.height else None,
        trend_chart=charts.conversion_trend(months) if months.height else None,
        **period.context(),
    )  # fmt: skip


@router.get("/reps", response_class=HTMLResponse)
def reps(request: Request, session: SessionDep, who: ManagerVisitor, period: PeriodDep) -> Response:
    """Weak leads or weak closer, close rates with intervals, capacity use and lagging flags."""
    report = reps_report(session, filters=period.filter)
    capacity = capacity_report(session, filters=period.filter)
    table = report.table
    return page(
        request, "reps.html", user=who.user, csrf=who.csrf, active="reps", report=report,
        rows=table.to_dicts(),
        estimate_chart=charts.rep_estimates(table) if table.height else None,
        expected_chart=charts.actual_vs_expected(table) if report.scored and table.height else None,
        capacity_chart=charts.capacity_use(capacity) if capacity.height else None,
        **period.context(),
    )  # fmt: skip


@router.get("/sources", response_class=HTMLResponse)
def sources(request: Request, session: SessionDep, who: ManagerVisitor, period: PeriodDep) -> Response:
    """Source ROI and conversion with intervals; sources that stopped working flagged."""
    table = sources_report(session, filters=period.filter).table
    return page(
        request, "sources.html", user=who.user, csrf=who.csrf, active="sources", rows=table.to_dicts(),
        roi_chart=charts.source_roi(table) if table.height else None,
        conversion_chart=charts.source_conversion(table) if table.height else None,
        **period.context(),
    )  # fmt: skip


@router.get("/funnel", response_class=HTMLResponse)
def funnel(request: Request, session: SessionDep, who: ManagerVisitor, period: PeriodDep) -> Response:
    """Stage ratios, speed to lead, and the time-to-close curves."""
    report = funnel_report(session, filters=period.filter)
    cohorts = cohorts_report(session, filters=period.filter, as_of=report.as_of)
    return page(
        request, "funnel.html", user=who.user, csrf=who.csrf, active="funnel", report=report,
        cohorts=cohorts, horizons=HORIZONS_MONTHS,
        sentence=cohorts.sentence() if cohorts.table.height else None,
        funnel_chart=charts.funnel(report.stages) if report.stages.height else None,
        speed_chart=charts.speed_buckets(report.speed) if report.speed.height else None,
        close_chart=(
            charts.time_to_close(cohorts.table, list(HORIZONS_MONTHS)) if cohorts.table.height else None
        ),
        **period.context(),
    )  # fmt: skip


@router.get("/sla", response_class=HTMLResponse)
def sla_queue(
    request: Request, session: SessionDep, settings: SettingsDep, who: ManagerVisitor,
    page_number: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
) -> Response:  # fmt: skip
    """Untouched leads and the time left to their first-touch deadline, soonest first."""
    now = utcnow()
    waiting = untouched_leads(session, settings=settings, owner_in=owners_in_scope(session, user=who.user))
    total, overdue = len(waiting), sum(1 for u in waiting if u.deadline <= now)
    owners = {
        rep.id: rep for rep in session.scalars(select(Rep).where(Rep.id.in_({u.owner_id for u in waiting})))
    }
    show = request.query_params.get("show", "all")
    rep_ref = request.query_params.get("rep", "")
    if rep_ref:
        waiting = [u for u in waiting if owners[u.owner_id].external_id == rep_ref]
    if show == "overdue":
        waiting = [u for u in waiting if u.deadline <= now]
    elif show == "backlog":
        waiting = [u for u in waiting if u.deadline < now - BACKLOG_AFTER]
    pages = max(1, -(-len(waiting) // SLA_PAGE))
    number = min(page_number, pages)
    shown = waiting[(number - 1) * SLA_PAGE : number * SLA_PAGE]
    leads = {
        lead.id: lead for lead in session.scalars(select(Lead).where(Lead.id.in_([u.lead_id for u in shown])))
    }
    rows = [
        {"lead": leads[u.lead_id], "owner": owners[u.owner_id].name, "grade": u.grade,
         "assigned_at": u.assigned_at, "deadline": u.deadline, "left": u.deadline - now}
        for u in shown
    ]  # fmt: skip
    return page(
        request, "sla.html", user=who.user, csrf=who.csrf, active="sla", rows=rows, total=total,
        overdue=overdue, matching=len(waiting), show=show, rep_ref=rep_ref, page_number=number, pages=pages,
        first=(number - 1) * SLA_PAGE + 1,
        owners=sorted(owners.values(), key=lambda r: r.name), message=request.query_params.get("message"),
    )  # fmt: skip


@router.post("/sla/{lead_id}/reassign")
def reassign(
    lead_id: LeadId, session: SessionDep, settings: SettingsDep, who: ManagerVisitor,
    csrf: Annotated[str, Form(max_length=100)],
) -> Response:  # fmt: skip
    """Pass an untouched lead on to the next eligible rep now (the miss stays on the owner)."""
    check_csrf(who, csrf)
    lead = session.get(Lead, lead_id)
    scope = owners_in_scope(session, user=who.user)
    if lead is None or (scope is not None and lead.owner_id not in scope):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such lead in your queue")
    before = {"owner_id": lead.owner_id}
    new_rep = reassign_untouched(session, settings=settings, lead_id=lead_id, by=who.user.email)
    record_write(
        session, actor=who.user.email, action="reassign untouched lead", entity="lead",
        entity_id=str(lead_id), before=before, after={"owner_id": new_rep},
    )  # fmt: skip
    name = session.get(Rep, new_rep).name if new_rep else None  # type: ignore[union-attr]
    text = (
        f"Lead {lead.external_id or lead_id} passed to {name}." if name else "Lead queued: nobody eligible."
    )
    return RedirectResponse(f"/web/sla?{urlencode({'message': text})}", status_code=status.HTTP_303_SEE_OTHER)


@router.get("/routing", response_class=HTMLResponse)
def routing(
    request: Request, session: SessionDep, settings: SettingsDep, who: ManagerVisitor,
    since: Since = None, until: Until = None,
    policy: Annotated[list[str] | None, Query()] = None,
) -> Response:  # fmt: skip
    """Each team's policy, and what other policies would have won on a past period."""
    team_names = list(session.scalars(select(Team.name).order_by(Team.name)))
    if who.user.role == "manager":
        own = own_team(session, user=who.user)
        team_names = [own.name] if own else []
    teams = [{"name": n, "routing": settings.routing.for_team(n)} for n in team_names]
    latest = latest_date(session).date()
    # by default a quarter that ended half a year ago: most of its leads have closed by now
    until = until or latest - timedelta(days=182)
    since = since or until - timedelta(days=91)
    chosen = tuple(p for p in (policy or BACKTEST_POLICIES) if p in BACKTEST_POLICIES) or BACKTEST_POLICIES
    table, problem = None, None
    try:
        table = backtest_policies(
            session,
            since=datetime.combine(since, time()),
            until=datetime.combine(until, time()),
            policies=chosen,
            # a manager's own team only (one without a team sees nothing)
            team=(team_names[0] if team_names else "") if who.user.role == "manager" else None,
        )
    except TooLittleHistory as exc:
        problem = str(exc)
    open_share = None
    if table is not None and table.height:
        open_share = table["still_open"][0] / max(1, table["still_open"][0] + table["leads"][0])
    return page(
        request, "routing.html", user=who.user, csrf=who.csrf, active="routing", teams=teams,
        period=settings.routing.period, since=since, until=until, policies=BACKTEST_POLICIES, chosen=chosen,
        rows=table.to_dicts() if table is not None else [], problem=problem, open_share=open_share,
        chart=charts.policy_comparison(table) if table is not None and table.height else None,
    )  # fmt: skip
