"""Manual assignment and reassignment: who gets a lead, by whom and why, with history."""

from __future__ import annotations

from datetime import datetime

import polars as pl
from sqlalchemy import update
from sqlalchemy.orm import Session

from leadflow.errors import InvalidChange
from leadflow.ledger.write import record_issued
from leadflow.models import Assignment, Lead, Rep, utcnow
from leadflow.notify.outbox import LeadEvent, queue_notifications
from leadflow.pipeline.stages import move
from leadflow.settings import Settings


def end_assignment(session: Session, *, lead: Lead, at: datetime) -> None:
    """Close the lead's current assignment, if any."""
    session.execute(
        update(Assignment)
        .where(Assignment.lead_id == lead.id, Assignment.ended_at.is_(None))
        .values(ended_at=at)
    )


def assign_lead(
    session: Session,
    *,
    lead: Lead,
    rep: Rep,
    by: str,
    reason: str,
    policy: str = "manual",
    settings: Settings | None = None,
) -> Assignment:
    """Give a lead to a rep (or move it from another), keeping the earlier assignment as history;
    with ``settings``, the rep is notified as for a routed lead."""
    if not rep.active:
        raise InvalidChange(f"rep {rep.name} is not active and cannot be given leads")
    if lead.stage in ("won", "lost", "disqualified"):
        raise InvalidChange(f"lead {lead.id} is {lead.stage}; closed leads are not reassigned")
    if lead.owner_id == rep.id:
        raise InvalidChange(f"lead {lead.id} already belongs to {rep.name}")
    if not reason.strip():
        raise InvalidChange("say why the lead is (re)assigned")
    now = utcnow()
    end_assignment(session, lead=lead, at=now)
    assignment = Assignment(
        lead_id=lead.id,
        rep_id=rep.id,
        at=now,
        policy=policy,
        reason=reason.strip(),
        by=by,
        credit_share=1.0,
    )
    session.add(assignment)
    record_issued(session, issued=pl.DataFrame({"rep_id": [rep.id], "at": [now]}))
    lead.owner_id, lead.assigned_at = rep.id, now
    if lead.stage == "inquiry":
        move(session, lead=lead, to_stage="lead", by=by, reason="assigned", at=now)
    session.flush()
    if settings is not None:
        event = LeadEvent("lead.assigned", lead.id, rep.id, {"policy": policy, "reason": assignment.reason})
        queue_notifications(session, settings=settings, events=[event], now=now)
    return assignment
