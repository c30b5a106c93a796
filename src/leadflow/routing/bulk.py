"""Actions on many leads at once from a list: reassign to a rep, route again by the rules in
force, issue to a partner, or close as lost with a reason. Each lead is done or set aside with
why; the caller's transaction holds them all."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadflow.errors import InvalidChange
from leadflow.models import CLOSED_STAGES, Lead, Rep, utcnow
from leadflow.pipeline.assignments import assign_lead, end_assignment
from leadflow.pipeline.outcomes import record_lost
from leadflow.pipeline.partners import issue_to_partner
from leadflow.routing.engine import route_leads
from leadflow.settings import Settings

BULK_ACTIONS = ("reassign", "requeue", "partner", "lose")


@dataclass
class BulkResult:
    """What a bulk action did: the leads done, and each lead set aside with why."""

    done: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)
    queued: list[int] = field(default_factory=list)  # requeued leads nobody could take now

    def summary(self, verb: str) -> str:
        said = f"{len(self.done):,} leads {verb}"
        if self.queued:
            said += f"; {len(self.queued):,} wait in the queue (nobody eligible now)"
        if self.skipped:
            reasons = "; ".join(f"lead {i}: {why}" for i, why in list(self.skipped.items())[:5])
            more = f" and {len(self.skipped) - 5} more" if len(self.skipped) > 5 else ""
            said += f"; {len(self.skipped):,} left as they were ({reasons}{more})"
        return said


def _leads(session: Session, lead_ids: list[int], result: BulkResult) -> list[Lead]:
    found = {lead.id: lead for lead in session.scalars(select(Lead).where(Lead.id.in_(lead_ids)))}
    for lead_id in lead_ids:
        if lead_id not in found:
            result.skipped[lead_id] = "no such lead"
    return [found[i] for i in lead_ids if i in found]


def _each(session: Session, lead_ids: list[int], act: Callable[[Lead], object]) -> BulkResult:
    """``act`` on each lead; one it refuses (InvalidChange) is set aside with its reason."""
    result = BulkResult()
    for lead in _leads(session, lead_ids, result):
        try:
            act(lead)
        except InvalidChange as exc:
            result.skipped[lead.id] = str(exc)
        else:
            result.done.append(lead.id)
    return result


def reassign_leads(
    session: Session, *, lead_ids: list[int], rep: Rep, by: str, reason: str, settings: Settings
) -> BulkResult:
    """Give each lead to ``rep``, as a manual assignment with the reason on record."""
    return _each(
        session,
        lead_ids,
        lambda lead: assign_lead(session, lead=lead, rep=rep, by=by, reason=reason, settings=settings),
    )


def requeue_leads(session: Session, *, lead_ids: list[int], by: str, settings: Settings) -> BulkResult:
    """Take each open lead from its owner and route it again by the settings in force (new
    territory rules, a rep back from leave); a lead nobody can take now waits in the queue."""
    result = BulkResult()
    now = utcnow()
    todo = []
    for lead in _leads(session, lead_ids, result):
        if lead.stage in CLOSED_STAGES:
            result.skipped[lead.id] = f"it is {lead.stage}; closed leads are not routed"
            continue
        end_assignment(session, lead=lead, at=now)
        lead.owner_id, lead.assigned_at = None, None
        todo.append(lead.id)
    session.flush()
    if todo:
        plan = route_leads(session, settings=settings, lead_ids=todo, by=by, cause=f"requeued by {by}")
        for decision in plan.decisions:
            (result.done if decision.rep_id is not None else result.queued).append(decision.lead_id)
        for lead_id in set(todo) - set(result.done) - set(result.queued):
            result.skipped[lead_id] = "not routable in its stage: left unowned"
    return result


def issue_leads_to_partner(
    session: Session, *, lead_ids: list[int], partner: str, by: str, reason: str
) -> BulkResult:
    """Issue each open lead to a distributor: it leaves the reps' queue and counts for the partner."""
    return _each(
        session,
        lead_ids,
        lambda lead: issue_to_partner(session, lead=lead, partner=partner, by=by, reason=reason),
    )


def lose_leads(session: Session, *, lead_ids: list[int], by: str, reason: str) -> BulkResult:
    """Close each open lead as lost with the reason."""
    if not reason.strip():
        raise InvalidChange("a lost lead needs a reason")

    def lose(lead: Lead) -> None:
        if lead.stage in CLOSED_STAGES:
            raise InvalidChange(f"it is already {lead.stage}")
        record_lost(session, lead=lead, reason=reason, by=by)

    return _each(session, lead_ids, lose)
