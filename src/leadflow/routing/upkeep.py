"""The routine a server runs every few minutes: nurtured leads whose follow-up is due go back to
the queue and are routed, the reserve is routed when room frees up, and the SLA sweep escalates
and reassigns leads nobody touched in time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from leadflow.models import utcnow
from leadflow.pipeline.outcomes import requeue_due_nurture
from leadflow.routing.engine import route_leads
from leadflow.routing.sla import SweepResult, sla_sweep
from leadflow.settings import Settings


@dataclass(frozen=True)
class Upkeep:
    """What one round did."""

    requeued: int
    routed: int
    sweep: SweepResult


def run_upkeep(session: Session, *, settings: Settings, now: datetime | None = None) -> Upkeep:
    """One round of upkeep, in the caller's transaction."""
    now = now or utcnow()
    requeued = requeue_due_nurture(session, now=now)
    plan = route_leads(session, settings=settings, now=now, by="upkeep")
    sweep = sla_sweep(session, settings=settings, now=now, by="upkeep")
    return Upkeep(len(requeued), plan.count(None), sweep)
