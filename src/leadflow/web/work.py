"""The rep's pages: "my leads" in the order to work them, a lead's page, one-click activity logging
and stage changes. A lead outside the visitor's scope is not found (404), as in the API."""

from __future__ import annotations

import math
from datetime import date, datetime, time
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from leadflow.access.service import record_write
from leadflow.analytics.scorecard import METRIC_WORDS, RATES, scorecard
from leadflow.deps import SessionDep, SettingsDep, lead_or_404
from leadflow.ledger.find import find_product
from leadflow.models import ACTIVITY_KINDS, ACTIVITY_OUTCOMES, LEAD_TYPES, Product, Rep, Source, utcnow
from leadflow.pipeline.activities import log_activity
from leadflow.pipeline.coaching import notes_of
from leadflow.pipeline.outcomes import set_stage
from leadflow.pipeline.queries import lead_story
from leadflow.pipeline.stages import TRANSITIONS
from leadflow.routing.worklist import work_next
from leadflow.web.auth import AnyVisitor, RepVisitor, check_csrf
from leadflow.web.render import LeadId, page

router = APIRouter(prefix="/web", include_in_schema=False)
Csrf = Annotated[str, Form(max_length=100)]
SHOWN = 200  # leads on "my leads", the first to work
NOTES_SHOWN = 3  # the rep's latest coaching notes on "my leads"
# The one-click buttons on "my leads": (label, kind, outcome)
QUICK = [("Call: connected", "call", "connected"), ("Call: no answer", "call", "no answer"),
         ("Email sent", "email", None)]  # fmt: skip


@router.get("/my", response_class=HTMLResponse)
def my_leads(request: Request, session: SessionDep, settings: SettingsDep, who: RepVisitor) -> Response:
    """The rep's open leads, what to work next first, with one-click logging."""
    now = utcnow()
    ranked = work_next(session, settings=settings, rep_id=who.user.rep_id or -1, now=now)
    rows = ranked.head(SHOWN).to_dicts()
    rep = session.get(Rep, who.user.rep_id) if who.user.rep_id else None
    goals = scorecard(session, on=now, rep=rep).to_dicts() if rep else []
    notes = notes_of(session, rep=rep)[:NOTES_SHOWN] if rep else []
    for row in rows:
        row["left"] = row["due_at"] - now if row["due_at"] is not None else None
    return page(
        request, "my_leads.html", user=who.user, csrf=who.csrf, active="my_leads", rows=rows, quick=QUICK,
        total=ranked.height, goals=goals, notes=notes, metrics=METRIC_WORDS, rates=RATES,
        message=request.query_params.get("message"),
    )  # fmt: skip


@router.get("/leads/{lead_id}", response_class=HTMLResponse)
def lead_page(request: Request, lead_id: LeadId, session: SessionDep, who: AnyVisitor) -> Response:
    """One lead: its fields, its story (with why each rep got it), and forms to work it."""
    lead = lead_or_404(session, user=who.user, ref=lead_id)
    story = lead_story(session, lead_id=lead.id)
    next_stages = [s for s in TRANSITIONS if s in TRANSITIONS[lead.stage]]  # in the pipeline's order
    owner = session.get(Rep, lead.owner_id) if lead.owner_id is not None else None
    return page(
        request, "lead.html", user=who.user, csrf=who.csrf, active=None, lead=story.lead, story=story,
        owner=owner,
        kinds=ACTIVITY_KINDS, outcomes=ACTIVITY_OUTCOMES, next_stages=next_stages,
        products=list(session.scalars(select(Product.name).order_by(Product.name))),
        sources=list(session.scalars(select(Source.name).order_by(Source.name))), lead_types=LEAD_TYPES,
        message=request.query_params.get("message"),
    )  # fmt: skip


def _back(request: Request, lead_id: int, text: str) -> Response:
    """Back to where the form was (my leads or the lead's page) with a message."""
    target = "/web/my" if request.query_params.get("back") == "my" else f"/web/leads/{lead_id}"
    return RedirectResponse(f"{target}?{urlencode({'message': text})}", status_code=status.HTTP_303_SEE_OTHER)


@router.post("/leads/{lead_id}/activity")
def add_activity(
    request: Request, lead_id: LeadId, session: SessionDep, who: AnyVisitor, csrf: Csrf,
    kind: Annotated[str, Form(max_length=20)],
    outcome: Annotated[str, Form(max_length=40)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:  # fmt: skip
    """Log a call, email, meeting or note on the lead, as the visiting rep."""
    check_csrf(who, csrf)
    lead = lead_or_404(session, user=who.user, ref=lead_id)
    if outcome and outcome not in ACTIVITY_OUTCOMES:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"unknown outcome {outcome!r}")
    rep = session.get(Rep, who.user.rep_id) if who.user.rep_id else None
    before = {"first_touch_at": lead.first_touch_at}
    log_activity(session, lead=lead, rep=rep, kind=kind, outcome=outcome or None, note=note.strip() or None)
    record_write(
        session, actor=who.user.email, action="log activity", entity="lead", entity_id=str(lead.id),
        before={k: v.isoformat() if v else None for k, v in before.items()},
        after={"kind": kind, "outcome": outcome or None, "note": note.strip() or None},
    )  # fmt: skip
    label = f"{kind}{': ' + outcome if outcome else ''}"
    return _back(request, lead.id, f"Logged {label} on {lead.company or lead.external_id or lead.id}.")


@router.post("/leads/{lead_id}/stage")
def move_stage(
    request: Request, lead_id: LeadId, session: SessionDep, who: AnyVisitor, csrf: Csrf,
    stage: Annotated[str, Form(max_length=20)],
    amount: Annotated[str, Form(max_length=30)] = "",
    product: Annotated[str, Form(max_length=200)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
    follow_up: Annotated[str, Form(max_length=10)] = "",
) -> Response:  # fmt: skip
    """Move the lead on: won with an amount, lost with a reason, nurture with a follow-up date."""
    check_csrf(who, csrf)
    lead = lead_or_404(session, user=who.user, ref=lead_id)
    before = {"stage": lead.stage}
    try:
        value = float(amount.replace(",", "")) if amount.strip() else None
        follow_up_at = datetime.combine(date.fromisoformat(follow_up), time(9)) if follow_up else None
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise ValueError(amount)
    except ValueError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "amount or follow-up date is not valid"
        ) from exc
    set_stage(
        session, lead=lead, stage=stage, by=who.user.email, amount=value,
        product=find_product(session, ref=product) if product else None,
        reason=reason.strip() or None, follow_up_at=follow_up_at,
    )  # fmt: skip
    record_write(
        session, actor=who.user.email, action="set stage", entity="lead", entity_id=str(lead.id),
        before=before, after={"stage": stage, "amount": amount or None, "reason": reason or None},
    )  # fmt: skip
    return _back(request, lead.id, f"Moved to {stage}.")
