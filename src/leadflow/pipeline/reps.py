"""Changing a rep's standing: their monthly capacity and whether they take leads at all, each
change kept in the audit log with who made it and the values before and after."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from leadflow.access.service import record_write
from leadflow.errors import InvalidChange
from leadflow.models import Rep


def update_rep(
    session: Session, *, rep: Rep, by: str, capacity: int | None = None, active: bool | None = None
) -> dict[str, tuple[Any, Any]]:
    """Set a rep's capacity and whether they are active; return what changed as (before, after).
    An inactive rep gets no new leads; the leads they hold stay theirs until reassigned."""
    if capacity is not None and capacity < 0:
        raise InvalidChange(f"a capacity is a number of leads a month, 0 or more (got {capacity})")
    wanted = {"capacity": capacity, "active": active}
    changed = {
        field: (getattr(rep, field), value)
        for field, value in wanted.items()
        if value is not None and getattr(rep, field) != value
    }
    if not changed:
        return {}
    for field, (_before, after) in changed.items():
        setattr(rep, field, after)
    record_write(
        session, actor=by, action="update rep", entity="rep", entity_id=rep.external_id,
        before={f: b for f, (b, _a) in changed.items()}, after={f: a for f, (_b, a) in changed.items()},
    )  # fmt: skip
    session.flush()
    return changed
