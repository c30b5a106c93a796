"""Stage changes: only along allowed transitions, each one a StageChange row."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from leadflow.errors import InvalidChange
from leadflow.models import STAGES, Lead, StageChange, utcnow

# Where a lead may go from each stage. Outcomes (won, lost, nurture) also go through outcomes.py,
# which records what they need (amount, reason, follow-up date).
TRANSITIONS: dict[str, frozenset[str]] = {
    "inquiry": frozenset({"lead", "qualified", "nurture", "disqualified", "lost"}),
    "lead": frozenset({"qualified", "opportunity", "nurture", "disqualified", "lost", "won"}),
    "qualified": frozenset({"opportunity", "nurture", "disqualified", "lost", "won"}),
    "opportunity": frozenset({"won", "lost", "nurture", "qualified"}),
    "nurture": frozenset({"lead", "qualified", "opportunity", "disqualified", "lost"}),
    "lost": frozenset({"nurture"}),
    "won": frozenset(),
    "disqualified": frozenset({"inquiry"}),
}
OUTCOME_STAGES = frozenset({"won", "lost", "nurture"})


def check_transition(from_stage: str, to_stage: str) -> None:
    """Raise InvalidChange unless a lead may move from ``from_stage`` to ``to_stage``."""
    if to_stage not in STAGES:
        raise InvalidChange(f"unknown stage {to_stage!r}; stages: {', '.join(STAGES)}")
    if to_stage not in TRANSITIONS[from_stage]:
        allowed = ", ".join(sorted(TRANSITIONS[from_stage])) or "none (it is final)"
        raise InvalidChange(f"a lead cannot go from {from_stage} to {to_stage}; allowed: {allowed}")


def move(
    session: Session, *, lead: Lead, to_stage: str, by: str, reason: str | None, at: datetime | None
) -> StageChange:
    """Move a lead along a checked transition and record it; the building block of outcomes."""
    check_transition(lead.stage, to_stage)
    change = StageChange(
        lead_id=lead.id,
        from_stage=lead.stage,
        to_stage=to_stage,
        at=at or utcnow(),
        by=by,
        reason=reason,
    )
    lead.stage = to_stage
    session.add(change)
    session.flush()
    return change


def change_stage(
    session: Session, *, lead: Lead, to_stage: str, by: str, reason: str | None = None
) -> StageChange:
    """Move a lead to a working stage (inquiry to opportunity, disqualified); outcomes elsewhere."""
    if to_stage in OUTCOME_STAGES:
        raise InvalidChange(
            f"{to_stage} is an outcome: record it with its details "
            "(won: amount and product; lost: reason; nurture: follow-up date)"
        )
    return move(session, lead=lead, to_stage=to_stage, by=by, reason=reason, at=None)
