"""Leads: capture (JSON and web-to-lead form), read."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response, status
from fastapi.encoders import jsonable_encoder
from pydantic import ValidationError
from sqlalchemy.orm import Session

from leadflow.access.scope import owners_in_scope, sees_unassigned
from leadflow.access.service import record_write
from leadflow.deps import CurrentLead, SessionDep, SettingsDep, allow
from leadflow.ledger.find import find_product, find_rep
from leadflow.models import MAX_ID, Lead, Rep, User
from leadflow.pipeline.activities import log_activity
from leadflow.pipeline.assignments import assign_lead
from leadflow.pipeline.edits import edit_lead
from leadflow.pipeline.outcomes import set_stage
from leadflow.pipeline.queries import LeadFilter, lead_story, list_leads
from leadflow.schemas import (
    ActivityIn,
    AssignIn,
    CapturedLead,
    LeadEdit,
    LeadIn,
    LeadOut,
    LeadPage,
    StageIn,
)
from leadflow.scoring.service import score_leads
from leadflow.serve.capturing import Answer, CaptureRequest
from leadflow.serve.group_commit import GroupCommit

router = APIRouter(prefix="/v1/leads", tags=["leads"])
Capturer = Annotated[User, Depends(allow("admin", "manager", "intake"))]
Reader = Annotated[User, Depends(allow("admin", "manager", "rep"))]
Assigner = Annotated[User, Depends(allow("admin", "manager"))]


async def _submit(request: Request, user: User, lead: LeadIn, key: str | None, response: Response) -> Any:
    """Capture through the app's group commit (one transaction for the requests arriving together)."""
    capturer: GroupCommit[CaptureRequest, Answer] = request.app.state.capturer
    answer = await capturer.submit(CaptureRequest(user_id=user.id, actor=user.email, lead=lead, key=key))
    if answer.status_code >= 400:
        raise HTTPException(answer.status_code, answer.body["detail"])
    response.status_code = answer.status_code
    return answer.body


@router.post("", response_model=CapturedLead, status_code=status.HTTP_201_CREATED)
async def capture(
    lead: LeadIn,
    request: Request,
    response: Response,
    user: Capturer,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    """Capture one lead: validate, deduplicate, score and route it in one transaction.

    201 with the new lead, its score and its owner (or the queue it waits in, and why); 200
    when it merged into a known lead. An Idempotency-Key replays the first answer."""
    return await _submit(request, user, lead, idempotency_key, response)


@router.post("/form", response_model=CapturedLead, status_code=status.HTTP_201_CREATED)
async def capture_form(
    request: Request,
    response: Response,
    user: Capturer,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    """Web-to-lead: the same capture from a form-encoded body; unknown fields become extras."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str) and v.strip()}
    known = {k: v for k, v in fields.items() if k in LeadIn.model_fields and k != "extra"}
    extra = {k: v for k, v in fields.items() if k not in LeadIn.model_fields}
    try:
        lead = LeadIn.model_validate({**known, "extra": extra})
    except ValidationError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, jsonable_encoder(exc.errors(include_url=False))
        ) from exc
    return await _submit(request, user, lead, idempotency_key, response)


def _lead_out(session: Session, lead: Lead) -> dict[str, Any]:
    fields = lead_story(session, lead_id=lead.id).lead
    return {name: fields.get(name) for name in LeadOut.model_fields}


@router.get("", response_model=LeadPage)
def list_page(
    session: SessionDep,
    user: Reader,
    stage: str | None = None,
    source: str | None = None,
    search: Annotated[str | None, Query(max_length=200)] = None,
    unassigned: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
) -> dict[str, Any]:
    """Leads this user may see, oldest first, a page at a time (pass ``next_cursor`` back)."""
    filters = LeadFilter(
        stage=stage, source=source, search=search, unassigned=unassigned, limit=limit + 1,
        after_id=cursor, owner_in=owners_in_scope(session, user=user),
        with_unassigned=sees_unassigned(user),
    )  # fmt: skip
    rows = list_leads(session, filters=filters).to_dicts()
    page, more = rows[:limit], len(rows) > limit
    return {
        "leads": [{name: row.get(name) for name in LeadOut.model_fields} for row in page],
        "next_cursor": str(page[-1]["id"]) if more and page else None,
    }


@router.get("/{lead_ref}", response_model=LeadOut)
def read(session: SessionDep, user: Reader, lead: CurrentLead) -> dict[str, Any]:
    """One lead by id or external id; another rep's lead is not found (404), not forbidden."""
    return _lead_out(session, lead)


@router.get("/{lead_ref}/story")
def story(session: SessionDep, user: Reader, lead: CurrentLead) -> dict[str, Any]:
    """Everything that happened to a lead, oldest first: each assignment with why (policy,
    eligible and excluded reps, the estimates used, the seed), activities, stages, field changes."""
    told = lead_story(session, lead_id=lead.id)
    payload: dict[str, Any] = jsonable_encoder(
        {
            "lead": told.lead,
            "assignments": told.assignments,
            "activities": told.activities,
            "stages": told.stages,
            "changes": told.changes,
        }
    )
    return payload


@router.post("/{lead_ref}/activities", response_model=LeadOut, status_code=status.HTTP_201_CREATED)
def add_activity(
    activity: ActivityIn, session: SessionDep, user: Reader, lead: CurrentLead
) -> dict[str, Any]:
    """Log a call, email or meeting on a lead (a rep on their own leads, as themselves)."""
    if user.role == "rep":
        rep = session.get(Rep, user.rep_id) if user.rep_id else None
    else:
        rep = find_rep(session, ref=activity.rep) if activity.rep else None
    before = {"first_touch_at": lead.first_touch_at}
    log_activity(
        session, lead=lead, rep=rep, kind=activity.kind, outcome=activity.outcome, note=activity.note,
        at=activity.at,
    )  # fmt: skip
    record_write(
        session, actor=user.email, action="log activity", entity="lead", entity_id=str(lead.id),
        before=jsonable_encoder(before), after=jsonable_encoder(activity.model_dump()),
    )  # fmt: skip
    return _lead_out(session, lead)


@router.post("/{lead_ref}/stage", response_model=LeadOut)
def move_stage(change: StageIn, session: SessionDep, user: Reader, lead: CurrentLead) -> dict[str, Any]:
    """Move a lead on (a rep on their own leads): won with an amount, lost with a reason,
    nurture with a follow-up date, or a working stage."""
    before = {"stage": lead.stage}
    product = find_product(session, ref=change.product) if change.product else None
    set_stage(
        session, lead=lead, stage=change.stage, by=user.email, amount=change.amount, product=product,
        reason=change.reason, follow_up_at=change.follow_up_at,
    )  # fmt: skip
    record_write(
        session, actor=user.email, action="set stage", entity="lead", entity_id=str(lead.id),
        before=before, after=jsonable_encoder(change.model_dump()),
    )  # fmt: skip
    return _lead_out(session, lead)


@router.patch("/{lead_ref}", response_model=LeadOut)
def edit(
    edits: LeadEdit, session: SessionDep, settings: SettingsDep, user: Reader, lead: CurrentLead
) -> dict[str, Any]:
    """Record what was learned about a lead (BANT, title, size...); it is scored again at once."""
    changes = edits.model_dump(exclude_unset=True)
    made = edit_lead(session, lead=lead, changes=changes, by=user.email)
    if made:
        score_leads(session, settings=settings, lead_ids=[lead.id], include_closed=True)
        record_write(
            session, actor=user.email, action="edit lead", entity="lead", entity_id=str(lead.id),
            before=jsonable_encoder({k: old for k, (old, _) in made.items()}),
            after=jsonable_encoder({k: new for k, (_, new) in made.items()}),
        )  # fmt: skip
    return _lead_out(session, lead)


@router.post("/{lead_ref}/assign", response_model=LeadOut)
def assign(
    order: AssignIn, session: SessionDep, settings: SettingsDep, user: Assigner, lead: CurrentLead
) -> dict[str, Any]:
    """Give a lead to a rep by hand (a manager within their team), with the reason on record."""
    rep = find_rep(session, ref=order.rep)
    scope = owners_in_scope(session, user=user)
    if scope is not None and rep.id not in scope:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{rep.name} is not in your team")
    before = {"owner_id": lead.owner_id}
    assign_lead(session, lead=lead, rep=rep, by=user.email, reason=order.reason, settings=settings)
    record_write(
        session, actor=user.email, action="assign lead", entity="lead", entity_id=str(lead.id),
        before=before, after={"owner_id": rep.id, "reason": order.reason},
    )  # fmt: skip
    return _lead_out(session, lead)
