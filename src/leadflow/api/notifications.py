"""The notification delivery log (admins)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.encoders import jsonable_encoder

from leadflow.deps import SessionDep, allow
from leadflow.models import User
from leadflow.notify.deliver import delivery_log

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])
Admin = Annotated[User, Depends(allow("admin"))]


@router.get("")
def log(
    session: SessionDep,
    user: Admin,
    status: Literal["pending", "delivered", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Each notification, newest first: event, channel, target, status, attempts, last error."""
    rows: list[dict[str, Any]] = jsonable_encoder(
        delivery_log(session, status=status, limit=limit).to_dicts()
    )
    return rows
