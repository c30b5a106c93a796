"""The lead list for managers (search, filters, sortable columns, numbered pages, saved views,
bulk actions with a confirmation, CSV of any list), a new lead from the dashboard, and what a
rep learns about a lead (BANT) edited from its page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from leadflow.access.scope import owners_in_scope, sees_unassigned
from leadflow.access.service import record_write
from leadflow.deps import SessionDep, SettingsDep, lead_or_404
from leadflow.errors import LeadflowError
from leadflow.intake.capture import capture_leads
from leadflow.ledger.export import csv_text
from leadflow.models import LEAD_TYPES, STAGES, Lead, Partner, Rep, SavedView, Source, Territory, utcnow
from leadflow.pipeline.edits import edit_lead
from leadflow.pipeline.queries import SORTABLE, LeadFilter, count_leads, list_leads
from leadflow.routing.bulk import (
    BULK_ACTIONS,
    issue_leads_to_partner,
    lose_leads,
    reassign_leads,
    requeue_leads,
)
from leadflow.routing.sla import untouched_leads
from leadflow.scoring.service import score_leads
from leadflow.web.auth import AnyVisitor, ManagerVisitor, PostedForm, Visitor, check_csrf
from leadflow.web.render import LeadId, page, see_other

router = APIRouter(prefix="/web", include_in_schema=False)
Csrf = Annotated[str, Form(max_length=100)]
PAGE_SIZE = 50
BULK_MAX = 1_000  # leads one bulk action may touch
GRADES = ("A", "B", "C", "D")
TIMELINES = ("this quarter", "next quarter", "this year", "later", "unknown")
NEEDS = ("high", "medium", "low")
Text200 = Annotated[str, Query(max_length=200)]


@dataclass
class ListQuery:
    """What the list shows, from its query string."""

    q: str = ""
    stage: str = ""
    owner: str = ""
    grade: str = ""
    source: str = ""
    territory: str = ""
    overdue: bool = False
    sort: str = "created_at"
    dir: str = "desc"
    page: int = 1

    def params(self, **override: Any) -> str:
        values = {k: v for k, v in (vars(self) | override).items() if v not in ("", False, None)}
        values = {k: ("1" if v is True else v) for k, v in values.items()}
        return urlencode(values)


def list_query(
    q: Text200 = "", stage: Text200 = "", owner: Text200 = "", grade: Text200 = "", source: Text200 = "",
    territory: Text200 = "", overdue: bool = False, sort: Text200 = "created_at", dir: Text200 = "desc",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> ListQuery:  # fmt: skip
    """The list's query string, checked (an unknown sort or stage is 422, not a database error)."""
    if sort not in SORTABLE or dir not in ("asc", "desc") or (stage and stage not in STAGES):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "unknown sort, direction or stage")
    return ListQuery(q.strip(), stage, owner, grade, source, territory, overdue, sort, dir, page)


ListQueryDep = Annotated[ListQuery, Depends(list_query)]


def _filter(session: Session, settings: Any, who: Visitor, query: ListQuery, *, paged: bool) -> LeadFilter:
    scope = owners_in_scope(session, user=who.user)
    owner_id = None
    if query.owner:
        rep = session.scalars(select(Rep).where(Rep.external_id == query.owner)).first()
        owner_id = rep.id if rep is not None and (scope is None or rep.id in scope) else -1
    overdue_ids = None
    if query.overdue:
        now = utcnow()
        overdue_ids = tuple(
            u.lead_id
            for u in untouched_leads(session, settings=settings, owner_in=scope)
            if u.deadline <= now
        )
    return LeadFilter(
        stage=query.stage or None, owner_id=owner_id, source=query.source or None, search=query.q or None,
        grade=query.grade or None, territory=query.territory or None, lead_ids=overdue_ids,
        owner_in=scope, with_unassigned=sees_unassigned(who.user), sort=query.sort,
        descending=query.dir == "desc", limit=PAGE_SIZE if paged else None,
        offset=(query.page - 1) * PAGE_SIZE if paged else 0,
    )  # fmt: skip


def _choices(session: Session, who: Visitor) -> dict[str, Any]:
    scope = owners_in_scope(session, user=who.user)
    reps = select(Rep).where(Rep.active.is_(True)).order_by(Rep.name)
    if scope is not None:
        reps = reps.where(Rep.id.in_(scope))
    return {
        "reps": list(session.scalars(reps)),
        "sources": list(session.scalars(select(Source.name).order_by(Source.name))),
        "territories": list(session.scalars(select(Territory.name).order_by(Territory.name))),
        "partners": list(session.scalars(select(Partner.name).order_by(Partner.name))),
        "stages": STAGES, "grades": GRADES, "sortable": SORTABLE, "actions": BULK_ACTIONS,
    }  # fmt: skip


@router.get("/leads", response_class=HTMLResponse)
def leads_list(
    request: Request, session: SessionDep, settings: SettingsDep, who: ManagerVisitor, query: ListQueryDep
) -> Response:
    """Leads in the manager's reach, searched, filtered, sorted and a page at a time."""
    filters = _filter(session, settings, who, query, paged=True)
    rows = list_leads(session, filters=filters).to_dicts()
    total = count_leads(session, filters=filters)
    views = session.scalars(
        select(SavedView).where(SavedView.user_id == who.user.id).order_by(SavedView.name)
    )
    first = (query.page - 1) * PAGE_SIZE
    return page(
        request, "leads.html", user=who.user, csrf=who.csrf, active="leads", rows=rows, total=total,
        query=query, first=first + 1 if rows else 0, last=first + len(rows),
        pages=max(1, -(-total // PAGE_SIZE)), views=list(views), message=request.query_params.get("message"),
        error=request.query_params.get("error"), **_choices(session, who),
    )  # fmt: skip


@router.get("/leads.csv")
def leads_csv(
    session: SessionDep, settings: SettingsDep, who: ManagerVisitor, query: ListQueryDep
) -> Response:
    """The whole list as CSV (every page), cells a spreadsheet would run as formulas neutralised."""
    frame = list_leads(session, filters=_filter(session, settings, who, query, paged=False))
    return Response(
        csv_text(frame), media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="leads.csv"'},
    )  # fmt: skip


@router.post("/leads/views")
def save_view(
    session: SessionDep, who: ManagerVisitor, csrf: Csrf,
    name: Annotated[str, Form(min_length=1, max_length=100)],
    query: Annotated[str, Form(max_length=2000)] = "",
) -> Response:  # fmt: skip
    """Keep the list as it is under a name of the user's (the same name: replaced)."""
    check_csrf(who, csrf)
    session.execute(delete(SavedView).where(SavedView.user_id == who.user.id, SavedView.name == name.strip()))
    session.add(SavedView(user_id=who.user.id, name=name.strip(), query=query.lstrip("?")))
    return see_other(f"/web/leads?{query.lstrip('?')}")


@router.post("/leads/views/{view_id}/delete")
def delete_view(view_id: int, session: SessionDep, who: ManagerVisitor, csrf: Csrf) -> Response:
    """Forget one of the user's saved views."""
    check_csrf(who, csrf)
    session.execute(delete(SavedView).where(SavedView.id == view_id, SavedView.user_id == who.user.id))
    return see_other("/web/leads")


def _in_reach(session: Session, who: Visitor, lead_ids: list[int]) -> list[int]:
    scope = owners_in_scope(session, user=who.user)
    query = select(Lead.id).where(Lead.id.in_(lead_ids))
    if scope is not None:
        query = query.where(Lead.owner_id.in_(scope) | Lead.owner_id.is_(None))
    found = set(session.scalars(query))
    return [i for i in lead_ids if i in found]


@router.post("/leads/bulk", response_class=HTMLResponse)
def bulk(
    form: PostedForm, request: Request, session: SessionDep, settings: SettingsDep, who: ManagerVisitor
) -> Response:
    """A bulk action on the leads ticked: first a page that says what will happen to how many
    leads; done only when that page is confirmed."""
    check_csrf(who, str(form.get("csrf", "")))
    action, back = str(form.get("action", "")), "/web/leads?" + str(form.get("back", ""))[:2000]
    try:
        ids = sorted({int(str(v)) for v in form.getlist("lead")})
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "lead ids are numbers") from exc
    if action not in BULK_ACTIONS or not ids or len(ids) > BULK_MAX:
        text = (
            "Tick the leads first, then choose an action."
            if not ids
            else f"At most {BULK_MAX} leads at once."
        )
        return see_other(back, error=text)
    ids = _in_reach(session, who, ids)
    reason = str(form.get("reason", "")).strip()[:500]
    rep = None
    if action == "reassign":
        scope = owners_in_scope(session, user=who.user)
        rep = session.scalars(select(Rep).where(Rep.external_id == str(form.get("rep", "")))).first()
        if rep is None or (scope is not None and rep.id not in scope):
            return see_other(back, error="Choose a rep of yours to reassign to.")
    partner = " ".join(str(form.get("partner", "")).split())[:200]
    if action == "partner" and not partner:
        return see_other(back, error="Name the partner to issue the leads to.")
    if form.get("confirm") != "yes":
        return page(
            request, "bulk_confirm.html", user=who.user, csrf=who.csrf, active="leads", action=action,
            ids=ids, rep=rep, reason=reason, back=str(form.get("back", "")), partner=partner,
        )  # fmt: skip
    by = who.user.email
    try:
        if action == "reassign":
            assert rep is not None
            why = reason or "reassigned in bulk"
            result = reassign_leads(session, lead_ids=ids, rep=rep, by=by, reason=why, settings=settings)
            verb = f"reassigned to {rep.name}"
        elif action == "requeue":
            result, verb = requeue_leads(session, lead_ids=ids, by=by, settings=settings), "routed again"
        elif action == "partner":
            result = issue_leads_to_partner(session, lead_ids=ids, partner=partner, by=by,
                                            reason=reason or f"issued to {partner} in bulk")  # fmt: skip
            verb = f"issued to {partner}"
        else:
            result, verb = lose_leads(session, lead_ids=ids, by=by, reason=reason), "closed as lost"
    except LeadflowError as exc:
        return see_other(back, error=f"Nothing done: {exc}.")
    record_write(
        session, actor=by, action=f"bulk {action}", entity="lead", entity_id=None, before={"leads": ids},
        after={"done": result.done, "queued": result.queued, "skipped": result.skipped,
               "rep": rep.external_id if rep else None, "partner": partner or None, "reason": reason or None},
    )  # fmt: skip
    return see_other(back, message=result.summary(verb) + ".")


@router.get("/leads/new", response_class=HTMLResponse)
def new_lead_form(request: Request, session: SessionDep, who: ManagerVisitor) -> Response:
    """A form for a lead that came by phone or a business card."""
    return page(
        request, "lead_new.html", user=who.user, csrf=who.csrf, active="leads", lead_types=LEAD_TYPES,
        sources=list(session.scalars(select(Source.name).order_by(Source.name))), timelines=TIMELINES,
        needs=NEEDS, error=request.query_params.get("error"), values={},
    )  # fmt: skip


NEW_FIELDS = ("first_name", "last_name", "email", "phone", "title", "company", "domain", "country",
              "industry", "company_size", "source", "lead_type", "budget", "authority", "need",
              "timeline")  # fmt: skip


@router.post("/leads/new", response_class=HTMLResponse)
def create_lead(
    form: PostedForm, request: Request, session: SessionDep, settings: SettingsDep, who: ManagerVisitor
) -> Response:
    """Capture the lead as any other (validated, deduplicated, scored, routed): one way in."""
    check_csrf(who, str(form.get("csrf", "")))
    record = {f: str(form.get(f, "")).strip()[:300] for f in NEW_FIELDS if str(form.get(f, "")).strip()}
    result = capture_leads(session, settings=settings, records=[record], channel=f"web:{who.user.email}")
    if not result.leads:
        problems = "; ".join(f"{r.column or 'lead'}: {r.reason}" for r in result.rejects) or "not captured"
        return page(
            request, "lead_new.html", user=who.user, csrf=who.csrf, active="leads", lead_types=LEAD_TYPES,
            sources=list(session.scalars(select(Source.name).order_by(Source.name))), timelines=TIMELINES,
            needs=NEEDS, error=f"Not added: {problems}.", values=record, status_code=422,
        )  # fmt: skip
    captured = result.leads[0]
    record_write(session, actor=who.user.email, action="add lead", entity="lead", entity_id=str(captured.id),
                 before=None, after=record)  # fmt: skip
    said = "Added" if captured.new else "Already known: merged into this lead"
    owner = f", routed to {captured.owner}" if captured.owner else f", waiting ({captured.reason})"
    return see_other(f"/web/leads/{captured.id}", message=said + owner + ".")


def _number(text: str, field: str) -> float | None:
    text = text.replace(",", "").replace("$", "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError as exc:
        raise LeadflowError(f"{field} must be a number (got {text!r})") from exc
    if value < 0 or value != value or value in (float("inf"), float("-inf")):
        raise LeadflowError(f"{field} must be 0 or more")
    return value


@router.post("/leads/{lead_id}/edit")
def edit(
    form: PostedForm,
    lead_id: LeadId,
    session: SessionDep,
    settings: SettingsDep,
    who: AnyVisitor,
) -> Response:
    """Record what was learned (BANT, title, industry, size, revenue, source, type); the lead is
    scored again."""
    check_csrf(who, str(form.get("csrf", "")))
    lead = lead_or_404(session, user=who.user, ref=lead_id)
    text = {
        k: str(form.get(k, "")).strip()[:300]
        for k in ("title", "industry", "need", "timeline", "lead_type", "source")
        if k in form
    }
    try:
        size = _number(str(form.get("company_size", "")), "company size")
        changes: dict[str, Any] = {
            **{k: v or None for k, v in text.items()},
            "budget": _number(str(form.get("budget", "")), "budget"),
            "annual_revenue": _number(str(form.get("annual_revenue", "")), "annual revenue"),
            "company_size": int(size) if size is not None else None,
            "authority": {"yes": True, "no": False}.get(str(form.get("authority", ""))),
        }
        before_score = lead.fit_score
        made = edit_lead(session, lead=lead, changes=changes, by=who.user.email)
    except LeadflowError as exc:
        return see_other(f"/web/leads/{lead_id}", message=f"Not saved: {exc}.")
    if not made:
        said = "Nothing changed."
    else:
        score_leads(session, settings=settings, lead_ids=[lead.id], include_closed=True)
        session.refresh(lead)
        record_write(
            session, actor=who.user.email, action="edit lead", entity="lead", entity_id=str(lead.id),
            before={k: str(o) if o is not None else None for k, (o, _) in made.items()},
            after={k: str(n) if n is not None else None for k, (_, n) in made.items()},
        )  # fmt: skip
        fit = lambda v: "–" if v is None else f"{v:.0f}"  # noqa: E731
        said = f"Saved {', '.join(made)}; fit score {fit(before_score)} → {fit(lead.fit_score)}."
    return see_other(f"/web/leads/{lead_id}", message=said)
