"""What requests to the API and the dashboard share: a database session (its one transaction),
who is asking, the lead a path names if they may see it (else 404), and report filters scoped
to what they may see."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from leadflow.access.scope import can_see_lead, own_team
from leadflow.access.service import (
    TokenCheck,
    authenticate,
    check_token,
    recently_checked,
    record_token_use,
)
from leadflow.analytics.query.filters import ReportFilter
from leadflow.db import session_scope
from leadflow.errors import NotFound
from leadflow.ledger import settings_versions as versions
from leadflow.ledger.find import by_name, find_lead, find_rep
from leadflow.models import Lead, Rep, Team, User
from leadflow.settings import Settings

log = logging.getLogger("leadflow.auth")


def db_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the view returns, rolled back if it fails.

    Committed before the response is sent (``scope="function"``): a client told "created" or sent
    on to the next page must find what was written, and a commit that fails must answer 500, not
    a success already on its way."""
    writes = request.method not in ("GET", "HEAD", "OPTIONS")
    with session_scope(request.app.state.engine, write=writes) as session:
        yield session


def settings(request: Request) -> Settings:
    """The configuration the app was started with (leadflow.toml): the bootstrap."""
    configured: Settings = request.app.state.settings
    return configured


SessionDep = Annotated[Session, Depends(db_session, scope="function")]
BootstrapDep = Annotated[Settings, Depends(settings)]


def settings_in_force(request: Request, bootstrap: BootstrapDep) -> Settings:
    """The settings in force for this request: the ledger's newest version, else leadflow.toml's,
    so that a change made in the app reaches every server at its next request. Read in a
    transaction of its own, as the user is, so that no write lock is held before the user's
    token is checked (which writes its last use)."""
    with session_scope(request.app.state.engine, write=False) as session:
        return versions.settings_in_force(session, bootstrap=bootstrap)


SettingsDep = Annotated[Settings, Depends(settings_in_force)]


def client_address(request: Request) -> str:
    """Where a request came from (uvicorn takes it from X-Forwarded-For behind a trusted proxy)."""
    return request.client.host if request.client else "unknown"


async def current_user(request: Request, authorization: Annotated[str | None, Header()] = None) -> User:
    """The user whose API token is in the Authorization header (Bearer), else 401. An unknown
    token is logged with the address it came from (a token is 256 random bits: guessing one is
    hopeless, so it locks nothing out; passwords do, see access.accounts).

    A token found valid moments ago is taken from memory (access.service.TOKEN_CACHE_SECONDS).
    Else it is checked in a transaction of its own, so that a request waiting for something else
    (a group commit) holds no database connection meanwhile. On SQLite the check is a local read of one
    indexed row, made on the event loop: the hand-off to a worker thread and back cost the API
    server more than the read (docs/performance-log.md). Writing the token's last use may wait
    for the write lock, so it is done on a worker thread, as is every read of a database across
    a network: the loop never waits on either."""
    scheme, _, token = (authorization or "").partition(" ")
    user = None
    if scheme.lower() == "bearer" and token:
        engine, token = request.app.state.engine, token.strip()
        user = recently_checked(token)
        if user is None and engine.dialect.name == "sqlite":
            found = _check(engine, token)
            if found is not None and found.use_due:
                await run_in_threadpool(_record_use, engine, found.token_id)
            user = found.user if found is not None else None
        elif user is None:
            user = await run_in_threadpool(_authenticate, engine, token)
        if user is None:
            log.warning("unknown API token", extra={"address": client_address(request)})
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid API token is needed: Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


def _check(engine: Engine, token: str) -> TokenCheck | None:
    with session_scope(engine) as session:
        return check_token(session, token=token)


def _record_use(engine: Engine, token_id: int) -> None:
    with session_scope(engine, write=True) as session:
        record_token_use(session, token_id=token_id)


def _authenticate(engine: Engine, token: str) -> User | None:
    with session_scope(engine) as session:
        return authenticate(session, token=token)


def allow(*roles: str) -> Callable[[User], Awaitable[User]]:
    """A dependency that lets only these roles through (403 for the others)."""

    async def check(user: Annotated[User, Depends(current_user)]) -> User:  # no I/O: no thread
        if user.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"the {user.role} role may not do this")
        return user

    return check


def lead_or_404(session: Session, *, user: User, ref: str | int) -> Lead:
    """The lead with this id (an int) or id or external id (a str) if this user may see it; 404
    otherwise, whether it exists or not, so that a caller cannot learn which leads exist."""
    try:
        lead = session.get(Lead, ref) if isinstance(ref, int) else find_lead(session, ref=ref)
    except NotFound:
        lead = None
    if lead is None or not can_see_lead(session, user=user, lead=lead):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such lead")
    return lead


def visible_lead(lead_ref: str, session: SessionDep, user: Annotated[User, Depends(current_user)]) -> Lead:
    """The lead the path names (``/{lead_ref}``), for an API caller who may see it."""
    return lead_or_404(session, user=user, ref=lead_ref)


CurrentLead = Annotated[Lead, Depends(visible_lead)]


def rep_or_404(session: Session, *, user: User, ref: str, themself: bool = False) -> Rep:
    """The rep a path names, if within the user's reach: an admin's any rep, a manager's their
    team's, and with ``themself`` a rep's own; else 404 (whether the rep exists is not the
    caller's to learn)."""
    try:
        rep: Rep | None = find_rep(session, ref=ref)
    except NotFound:
        rep = None
    allowed = rep is not None and (
        user.role == "admin"
        or (user.role == "manager" and user.team_id is not None and rep.team_id == user.team_id)
        or (themself and user.role == "rep" and user.rep_id == rep.id)
    )
    if rep is None or not allowed:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such rep")
    return rep


def scoped_filter(session: Session, *, user: User, filters: ReportFilter) -> ReportFilter:
    """Report filters held to what this user may see: a manager their own team only (asking for
    another team: 404)."""
    if user.role != "manager":
        return filters
    own = own_team(session, user=user)
    asked = by_name(session, Team, filters.team) if filters.team is not None else own
    if own is None or asked is None or asked.id != own.id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such team")
    return replace(filters, team=own.name)
