"""Edits to what a rep learns about a lead (BANT, title, company size...), kept as history.

Identity fields (email, phone, domain, names, company) are not edited here: they are the keys
that deduplicate captures, and a duplicate capture merges into the lead with its own history.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadflow.errors import InvalidChange
from leadflow.ledger.find import by_name
from leadflow.models import LEAD_TYPES, Lead, LeadChange, Source, utcnow

EDITABLE = ("title", "industry", "company_size", "annual_revenue", "budget", "authority", "need", "timeline",
            "lead_type", "source")  # fmt: skip


def _source_name(session: Session, source_id: int | None) -> str | None:
    source = session.get(Source, source_id) if source_id is not None else None
    return source.name if source else None


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
        if field == "lead_type" and value is not None and value not in LEAD_TYPES:
            raise InvalidChange(f"{value!r} is not a lead type; one of {', '.join(LEAD_TYPES)}")
        if field == "source":
            old = _source_name(session, lead.source_id)
            found = by_name(session, Source, value) if value else None
            if value and found is None:
                known = ", ".join(session.scalars(select(Source.name).order_by(Source.name))) or "none yet"
                raise InvalidChange(f"there is no source {value!r} (sources: {known})")
            value = found.name if found else None
            if old == value:
                continue
            lead.source_id = found.id if found else None
        else:
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
