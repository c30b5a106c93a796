"""Edits to what a rep learns about a lead (BANT, title, company size...), kept as history.

Identity fields (email, phone, domain, names, company) are not edited here: they are the keys
that deduplicate captures, and a duplicate capture merges into the lead with its own history.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from leadflow.errors import InvalidChange
from leadflow.models import Lead, LeadChange, utcnow

EDITABLE = ("title", "industry", "company_size", "annual_revenue", "budget", "authority", "need", "timeline")


def edit_lead(
    session: Session, *, lead: Lead, changes: Mapping[str, Any], by: str, at: datetime | None = None
) -> dict[str, tuple[Any, Any]]:
    """Set the given fields and record each real change (old and new value); the changes made."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise InvalidChange(f"these fields cannot be edited: {', '.join(sorted(unknown))}")
    at = at or utcnow()
    made: dict[str, tuple[Any, Any]] = {}
    for field, value in changes.items():
        old = getattr(lead, field)
        if old == value:
            continue
        setattr(lead, field, value)
        made[field] = (old, value)
        session.add(
            LeadChange(
                lead_id=lead.id, at=at, field=field, by=by,
                old_value=None if old is None else str(old), new_value=None if value is None else str(value),
            )
        )  # fmt: skip
    session.flush()
    return made
