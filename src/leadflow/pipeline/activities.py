"""Activities: every contact with a lead and its result; the first touch is derived from them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from leadflow.errors import InvalidChange
from leadflow.models import ACTIVITY_KINDS, Activity, Lead, Rep, naive_utc, utcnow

# A note is not a contact: it does not count as the first touch.
CONTACT_KINDS = tuple(k for k in ACTIVITY_KINDS if k != "note")


def log_activity(
    session: Session,
    *,
    lead: Lead,
    rep: Rep | None,
    kind: str,
    outcome: str | None = None,
    note: str | None = None,
    at: datetime | None = None,
) -> Activity:
    """Record one contact with a lead and keep its first-touch time current."""
    if kind not in ACTIVITY_KINDS:
        raise InvalidChange(f"unknown activity kind {kind!r}; kinds: {', '.join(ACTIVITY_KINDS)}")
    at = naive_utc(at) if at else utcnow()
    if at > utcnow():
        raise InvalidChange("an activity cannot be logged in the future")
    activity = Activity(
        lead_id=lead.id,
        rep_id=rep.id if rep else None,
        at=at,
        kind=kind,
        outcome=outcome,
        note=note,
    )
    session.add(activity)
    if kind in CONTACT_KINDS and (lead.first_touch_at is None or at < lead.first_touch_at):
        lead.first_touch_at = at
    session.flush()
    return activity


def refresh_first_touch(session: Session, *, lead_ids: list[int]) -> None:
    """Set each lead's first touch to its earliest contact where that is earlier than the kept one."""
    for start in range(0, len(lead_ids), 5000):
        chunk = lead_ids[start : start + 5000]
        earliest = (
            select(func.min(Activity.at))
            .where(and_(Activity.lead_id == Lead.id, Activity.kind.in_(CONTACT_KINDS)))
            .scalar_subquery()
        )
        session.execute(
            update(Lead)
            .where(Lead.id.in_(chunk))
            .where(earliest.is_not(None))
            .where((Lead.first_touch_at.is_(None)) | (Lead.first_touch_at > earliest))
            .values(first_touch_at=earliest),
            execution_options={"synchronize_session": False},
        )
