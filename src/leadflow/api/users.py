"""Users for admins: invite, list them, disable or enable, change a role, set a password."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import Field
from sqlalchemy import select

from leadflow.access import accounts
from leadflow.access.service import find_user, record_write
from leadflow.deps import SessionDep, allow
from leadflow.ledger.find import find_rep, find_team
from leadflow.models import User
from leadflow.schemas import Input

router = APIRouter(prefix="/v1/users", tags=["users"])
Admin = Annotated[User, Depends(allow("admin"))]


class UserChange(Input):
    """What to change of a user; fields left out stay as they are."""

    active: bool | None = None
    role: str | None = Field(default=None, max_length=20)
    rep: str | None = Field(default=None, max_length=200)  # with role "rep": the rep they are
    team: str | None = Field(default=None, max_length=200)  # with role "manager": their team
    password: str | None = Field(default=None, min_length=10, max_length=1000)


def _shown(user: User) -> dict[str, Any]:
    return {"email": user.email, "name": user.name, "role": user.role, "active": user.active}


class UserIn(Input):
    """A user to invite: a rep user names their rep, a manager their team."""

    email: str = Field(min_length=3, max_length=320)
    name: str = Field(default="", max_length=200)
    role: str = Field(max_length=20)
    rep: str | None = Field(default=None, max_length=200)
    team: str | None = Field(default=None, max_length=200)


@router.post("", status_code=status.HTTP_201_CREATED)
def invite(new: UserIn, session: SessionDep, admin: Admin) -> dict[str, Any]:
    """Invite a user: answered once with a one-time password to pass on (kept only hashed)."""
    user, password = accounts.invite_user(
        session, email=new.email, name=new.name, role=new.role, rep=new.rep, team=new.team, by=admin.email
    )
    return _shown(user) | {"password": password}


@router.get("")
def users(session: SessionDep, admin: Admin) -> list[dict[str, Any]]:
    """Every user with their role and whether they may sign in."""
    return [_shown(u) for u in session.scalars(select(User).order_by(User.email))]


@router.patch("/{email}")
def change(email: str, change: UserChange, session: SessionDep, admin: Admin) -> dict[str, Any]:
    """Disable (every token and session ends at once) or enable a user, change their role, or
    set their password (their dashboard sessions end)."""
    user = find_user(session, email=email)
    if user.id == admin.id and (change.active is False or change.role not in (None, "admin")):
        raise HTTPException(status.HTTP_409_CONFLICT, "an admin may not disable or demote themselves")
    before = _shown(user)
    if change.active is not None:
        accounts.set_active(session, user=user, active=change.active)
    if change.role is not None:
        rep = find_rep(session, ref=change.rep) if change.rep else None
        team = find_team(session, ref=change.team) if change.team else None
        accounts.set_role(session, user=user, role=change.role, rep=rep, team=team)
    if change.password is not None:
        accounts.set_password(session, user=user, password=change.password)
    after = _shown(user) | {"password changed": change.password is not None}
    record_write(
        session, actor=admin.email, action="change user", entity="user", entity_id=user.email,
        before=before, after=after,
    )  # fmt: skip
    return _shown(user)
