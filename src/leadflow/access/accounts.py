"""Closing and changing accounts, and locking sign-ins after repeated failures.

Disabling a user ends every way they are signed in at once: their API tokens and dashboard
sessions are revoked, not only refused while the account is off. A new password ends the
dashboard sessions too. Failed sign-ins are counted per account and per address over the last
``server.lockout_minutes``; past ``server.failed_logins`` (an address may fail four times as often,
since several people may share one) further attempts are refused without checking the password,
so guessing costs time whatever the guesses.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from leadflow.access.service import (
    WEB_SESSION,
    add_user,
    check_role,
    forget_checked_tokens,
    hash_password,
    record_write,
)
from leadflow.ledger.find import find_rep, find_team
from leadflow.models import ApiToken, LoginFailure, Rep, Team, User, utcnow
from leadflow.settings import Server

log = logging.getLogger("leadflow.auth")
ADDRESS_FACTOR = 4  # an address may fail this many times as often as one account


def one_time_password() -> str:
    """A password to pass on once (an invitation, a reset), for its holder to change."""
    return secrets.token_urlsafe(12)


def invite_user(
    session: Session, *, email: str, name: str, role: str, rep: str | None, team: str | None, by: str
) -> tuple[User, str]:
    """Add a user (a rep user tied to the rep named, a manager to the team named) with a one-time
    password, audited; the user and the password, to show once (only its hash is kept)."""
    password = one_time_password()
    user = add_user(
        session, email=email, name=name, role=role, password=password,
        rep=find_rep(session, ref=rep) if rep else None, team=find_team(session, ref=team) if team else None,
    )  # fmt: skip
    record_write(session, actor=by, action="add user", entity="user", entity_id=user.email, before=None,
                 after={"role": user.role, "rep": rep, "team": team})  # fmt: skip
    return user, password


def revoke_all(session: Session, *, user: User, sessions_only: bool = False) -> int:
    """Revoke the user's unrevoked tokens (only dashboard sessions with ``sessions_only``)."""
    query = update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    if sessions_only:
        query = query.where(ApiToken.name == WEB_SESSION)
    result = session.execute(query.values(revoked_at=utcnow()))
    forget_checked_tokens()
    return int(getattr(result, "rowcount", 0))


def set_active(session: Session, *, user: User, active: bool) -> None:
    """Enable or disable a user; disabling revokes every token and session they hold."""
    user.active = active
    if not active:
        revoke_all(session, user=user)


def set_role(
    session: Session, *, user: User, role: str, rep: Rep | None = None, team: Team | None = None
) -> None:
    """Give the user another role (a rep user is tied to a rep, a manager to a team); their
    sessions end, so that no page keeps what the old role could see."""
    check_role(role, rep=rep, team=team)
    user.role = role
    user.rep_id = rep.id if rep is not None and role == "rep" else None
    user.team_id = team.id if team is not None and role == "manager" else None
    revoke_all(session, user=user, sessions_only=True)  # and forgets the API tokens checked


def set_password(session: Session, *, user: User, password: str) -> None:
    """A new dashboard password; the user's dashboard sessions end."""
    user.password_hash = hash_password(password)
    revoke_all(session, user=user, sessions_only=True)


def lockout(
    session: Session, *, email: str | None, address: str, limits: Server, now: datetime | None = None
) -> str | None:
    """Why sign-ins for this account (if any) from this address are refused now, or None."""
    since = (now or utcnow()) - timedelta(minutes=limits.lockout_minutes)
    counted = select(func.count()).select_from(LoginFailure).where(LoginFailure.at >= since)
    wait = f"try again in {limits.lockout_minutes:g} minutes"
    if email and (session.scalar(counted.where(LoginFailure.email == email)) or 0) >= limits.failed_logins:
        return f"too many failed sign-ins for this account; {wait}"
    from_address = session.scalar(counted.where(LoginFailure.address == address)) or 0
    if from_address >= limits.failed_logins * ADDRESS_FACTOR:
        return f"too many failed sign-ins from this address; {wait}"
    return None


def record_failure(session: Session, *, email: str | None, address: str, what: str) -> None:
    """Count a failed sign-in and log it with the account and the address."""
    session.add(LoginFailure(at=utcnow(), email=email, address=address))
    log.warning("failed sign-in: %s", what, extra={"account": email, "address": address})


def clear_failures(session: Session, *, email: str) -> None:
    """A successful sign-in: the account's count starts again."""
    session.execute(delete(LoginFailure).where(LoginFailure.email == email))
