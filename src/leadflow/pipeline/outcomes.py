"""Outcomes: won (amount, product), lost (reason), nurture (follow-up date) and nurture re-entry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadflow.errors import InvalidChange
from leadflow.models import Lead, Product, naive_utc, utcnow
from leadflow.pipeline.assignments import end_assignment
from leadflow.pipeline.stages import change_stage, move


def record_won(
    session: Session,
    *,
    lead: Lead,
    amount: float,
    product: Product | None,
    by: str,
    at: datetime | None = None,
) -> Lead:
    """Close a lead as won with what was bought, for how much, and when."""
    if amount < 0:
        raise InvalidChange("a won amount cannot be negative")
    at = naive_utc(at) if at else utcnow()
    move(session, lead=lead, to_stage="won", by=by, reason=None, at=at)
    lead.won_at, lead.amount = at, amount
    lead.product_id = product.id if product else lead.product_id
    lead.follow_up_at = None
    session.flush()
    return lead


def record_lost(session: Session, *, lead: Lead, reason: str, by: str, at: datetime | None = None) -> Lead:
    """Close a lead as lost, with the reason."""
    if not reason.strip():
        raise InvalidChange("a lost lead needs a reason")
    at = naive_utc(at) if at else utcnow()
    move(session, lead=lead, to_stage="lost", by=by, reason=reason, at=at)
    lead.lost_at, lead.lost_reason = at, reason.strip()
    lead.follow_up_at = None
    session.flush()
    return lead


def record_nurture(
    session: Session, *, lead: Lead, follow_up_at: datetime, by: str, reason: str | None = None
) -> Lead:
    """Park a lead until a follow-up date, when it re-enters routing."""
    now = utcnow()
    follow_up_at = naive_utc(follow_up_at)
    if follow_up_at <= now:
        raise InvalidChange("the follow-up date must be in the future")
    move(session, lead=lead, to_stage="nurture", by=by, reason=reason, at=now)
    lead.follow_up_at = follow_up_at
    session.flush()
    return lead


def requeue_due_nurture(session: Session, *, now: datetime | None = None) -> list[int]:
    """Return nurtured leads whose follow-up is due to the routing queue; their ids."""
    now = now or utcnow()
    due = session.scalars(
        select(Lead)
        .where(Lead.stage == "nurture", Lead.follow_up_at <= now)
        .with_for_update(skip_locked=True)
    ).all()
    for lead in due:
        move(
            session,
            lead=lead,
            to_stage="lead",
            by="nurture",
            reason="follow-up date reached",
            at=now,
        )
        end_assignment(session, lead=lead, at=now)
        lead.owner_id, lead.assigned_at, lead.follow_up_at = None, None, None
    session.flush()
    return [lead.id for lead in due]


def set_stage(
    session: Session,
    *,
    lead: Lead,
    stage: str,
    by: str,
    amount: float | None = None,
    product: Product | None = None,
    reason: str | None = None,
    follow_up_at: datetime | None = None,
) -> Lead:
    """Move a lead to any stage, with what an outcome needs: won an amount (and the product),
    lost a reason, nurture a follow-up date; the working stages through the checked moves."""
    if stage == "won":
        if amount is None:
            raise InvalidChange("a won lead needs its amount")
        return record_won(session, lead=lead, amount=amount, product=product, by=by)
    if stage == "lost":
        return record_lost(session, lead=lead, reason=reason or "", by=by)
    if stage == "nurture":
        if follow_up_at is None:
            raise InvalidChange("a nurtured lead needs a follow-up date")
        return record_nurture(session, lead=lead, follow_up_at=follow_up_at, by=by, reason=reason)
    change_stage(session, lead=lead, to_stage=stage, by=by, reason=reason)
    return lead
