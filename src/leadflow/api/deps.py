"""What every request needs: a database session (its one transaction) and who is asking."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from sqlalchemy.orm import Session

from leadflow.access.service import authenticate
from leadflow.db import session_scope
from leadflow.models import User
from leadflow.settings import Settings


def db_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the view returns, rolled back if it fails."""
    with session_scope(request.app.state.engine) as session:
        yield session


def settings(request: Request) -> Settings:
    """The configuration the app was started with."""
    configured: Settings = request.app.state.settings
    return configured


SessionDep = Annotated[Session, Depends(db_session)]
SettingsDep = Annotated[Settings, Depends(settings)]


def current_user(request: Request, authorization: Annotated[str | None, Header()] = None) -> User:
    """The user whose API token is in the Authorization header (Bearer), else 401.

    Checked in a transaction of its own, so that a request waiting for something else (a group
    commit) holds no database connection meanwhile; the user comes back detached, loaded."""
    scheme, _, token = (authorization or "").partition(" ")
    user = None
    if scheme.lower() == "bearer" and token:
        with session_scope(request.app.state.engine) as session:
            user = authenticate(session, token=token.strip())
            if user is not None:
                session.expunge(user)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid API token is needed: Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


def allow(*roles: str) -> Callable[[User], Awaitable[User]]:
    """A dependency that lets only these roles through (403 for the others)."""

    async def check(user: Annotated[User, Depends(current_user)]) -> User:  # no I/O: no thread
        if user.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"the {user.role} role may not do this")
        return user

    return check
