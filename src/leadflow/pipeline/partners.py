"""The partner channel: leads issued to a distributor, who reports results only in aggregate."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from leadflow.errors import InvalidChange
from leadflow.ledger.keys import name_key
from leadflow.models import Assignment, Lead, Partner, PartnerReport, utcnow
from leadflow.pipeline.assignments import end_assignment
from leadflow.pipeline.stages import move


def get_or_create_partner(session: Session, *, name: str) -> Partner:
    """The partner of this name (in any case and spacing), created on first use."""
    key = name_key(name)
    if not key:
        raise InvalidChange("a partner needs a name")
    partner = session.scalars(select(Partner).where(Partner.key == key)).one_or_none()
    if partner is None:
        partner = Partner(name=name.strip(), key=key)
        session.add(partner)
        session.flush()
    return partner


def issue_to_partner(session: Session, *, lead: Lead, partner: str, by: str, reason: str) -> Assignment:
    """Issue a lead to a distributor: it leaves the reps' queue and counts for the partner."""
    if lead.stage in ("won", "lost", "disqualified"):
        raise InvalidChange(f"lead {lead.id} is {lead.stage}; closed leads are not issued")
    if not reason.strip():
        raise InvalidChange("say why the lead goes to a partner")
    target = get_or_create_partner(session, name=partner)
    now = utcnow()
    end_assignment(session, lead=lead, at=now)
    assignment = Assignment(
        lead_id=lead.id,
        partner_id=target.id,
        at=now,
        policy="partner",
        reason=reason.strip(),
        by=by,
        credit_share=1.0,
    )
    session.add(assignment)
    lead.owner_id, lead.assigned_at = None, now
    if lead.stage == "inquiry":
        move(session, lead=lead, to_stage="lead", by=by, reason=f"issued to {target.name}", at=now)
    session.flush()
    return assignment


def record_partner_report(
    session: Session,
    *,
    partner: str,
    period_start: datetime,
    period_end: datetime,
    leads_worked: int,
    won: int,
    revenue: float,
) -> PartnerReport:
    """Record a partner's results for a period (replacing an earlier report of the same period)."""
    if period_end <= period_start:
        raise InvalidChange("a report's period must end after it starts")
    if min(leads_worked, won) < 0 or revenue < 0:
        raise InvalidChange("worked, won and revenue cannot be negative")
    if won > leads_worked:
        raise InvalidChange(f"won ({won}) cannot exceed the leads worked ({leads_worked})")
    target = get_or_create_partner(session, name=partner)
    session.execute(
        delete(PartnerReport).where(
            PartnerReport.partner_id == target.id,
            PartnerReport.period_start == period_start,
            PartnerReport.period_end == period_end,
        )
    )
    report = PartnerReport(
        partner_id=target.id,
        period_start=period_start,
        period_end=period_end,
        leads_worked=leads_worked,
        won=won,
        revenue=revenue,
    )
    session.add(report)
    session.flush()
    return report
