"""Users, API tokens and the audit log.

Passwords are kept as argon2 hashes; API tokens, being long random strings, as their SHA-256
(enough against a leaked table, and fast to check on every request). A token is shown once,
when issued, and never again.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import bindparam, inspect, select, update
from sqlalchemy.orm import Session, make_transient_to_detached

from leadflow.db import bulk_insert, driver_value, read_rows
from leadflow.errors import InvalidChange, NotFound
from leadflow.models import ApiToken, AuditEntry, Rep, Team, User, utcnow

Role = Literal["admin", "manager", "rep", "intake"]
ROLES: tuple[Role, ...] = ("admin", "manager", "rep", "intake")
TOKEN_PREFIX = "lf_"  # an API token
WEB_PREFIX = "lfw_"  # a dashboard session: neither works as the other
WEB_SESSION = "dashboard session"
LAST_USED_EVERY = timedelta(minutes=5)  # how fresh a token's last_used_at is kept
_hasher = PasswordHasher()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(
    session: Session,
    *,
    email: str,
    name: str,
    role: str,
    password: str | None = None,
    rep: Rep | None = None,
    team: Team | None = None,
) -> User:
    """Create a user; a rep user is tied to their rep record, a manager to their team."""
    check_role(role, rep=rep, team=team)
    address = email.strip().lower()
    if "@" not in address:
        raise InvalidChange(f"{email!r} is not an email address")
    if session.scalars(select(User).where(User.email == address)).first() is not None:
        raise InvalidChange(f"a user {address} already exists")
    user = User(
        email=address,
        name=name.strip() or address,
        role=role,
        password_hash=hash_password(password) if password else None,
        rep_id=rep.id if rep else None,
        team_id=team.id if team else None,
        active=True,
        created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    return user


def check_role(role: str, *, rep: Rep | None, team: Team | None) -> None:
    """That ``role`` is one, and has what it needs: a rep user their rep, a manager their team."""
    if role not in ROLES:
        raise InvalidChange(f"unknown role {role!r}; choose from {', '.join(ROLES)}")
    if role == "rep" and rep is None:
        raise InvalidChange("a rep user needs the rep they are (--rep)")
    if role == "manager" and team is None:
        raise InvalidChange("a manager needs the team they manage (--team)")


def hash_password(password: str) -> str:
    """The argon2 hash of a new password (at least 10 characters)."""
    if len(password) < 10:
        raise InvalidChange("a password needs at least 10 characters")
    return _hasher.hash(password)


def _user_by_email(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(User.email == email.strip().lower())).first()


def _token_row(session: Session, token: str) -> ApiToken | None:
    return session.scalars(select(ApiToken).where(ApiToken.token_hash == _digest(token))).first()


def find_user(session: Session, *, email: str) -> User:
    """The user with this email address."""
    user = _user_by_email(session, email)
    if user is None:
        raise NotFound(f"no user {email!r}")
    return user


def check_password(session: Session, *, email: str, password: str) -> User | None:
    """The active user if the password is theirs, else None (the same answer for an unknown email)."""
    user = _user_by_email(session, email)
    if user is None or not user.active or user.password_hash is None:
        _hasher.hash(password)  # as slow as a real check, so timing does not tell who exists
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except VerificationError:
        return None
    return user


def issue_token(
    session: Session, *, user: User, name: str, expires_at: datetime | None = None, web: bool = False
) -> tuple[ApiToken, str]:
    """A new API token (or, with ``web``, dashboard session) for the user: the row, and the token
    itself (shown this once only)."""
    token = (WEB_PREFIX if web else TOKEN_PREFIX) + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        name=name.strip() or "token",
        prefix=token[:10],
        token_hash=_digest(token),
        created_at=utcnow(),
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row, token


# Each of the user's attributes (as the mapper names it) and its column.
_USER_COLUMNS = [(attribute.key, attribute.columns[0]) for attribute in inspect(User).column_attrs]
# A token's state and its user's columns, by the token's digest: checked on every request, so
# read as plain columns, not as two ORM entities (loading them was a third of the API server's
# time a captured lead).
_TOKEN_CHECK = (
    select(
        ApiToken.id.label("token_id"),
        ApiToken.expires_at,
        ApiToken.revoked_at,
        ApiToken.last_used_at,
        *(column.label(f"user_{attribute}") for attribute, column in _USER_COLUMNS),
    )
    .join(User, User.id == ApiToken.user_id)
    .where(ApiToken.token_hash == bindparam("digest"))
)
_TOKEN_USED = (
    update(ApiToken).where(ApiToken.id == bindparam("token_id")).values(last_used_at=bindparam("at"))
)


# A token found valid is taken as valid for this long in the process that checked it, without
# reading the database again: at hundreds of requests a second from one caller, the read was a
# fifth of the API server's time. A token revoked (or its user switched off or given another
# role) through leadflow is forgotten at once in this process; elsewhere it stops working within
# this many seconds. A failed check is never kept.
TOKEN_CACHE_SECONDS = 2.0
_TOKEN_CACHE_SIZE = 4096
_checked: dict[str, tuple[float, dict[str, Any], datetime | None]] = {}  # digest: when, user, expiry


def recently_checked(token: str, *, now: datetime | None = None) -> User | None:
    """The user of an API token this process found valid within ``TOKEN_CACHE_SECONDS`` and that
    has not expired since, read from memory (a new detached copy each time); else None, and
    :func:`check_token` reads the database."""
    kept = _checked.get(_digest(token))
    if kept is None:
        return None
    when, attributes, expires_at = kept
    if time.monotonic() - when > TOKEN_CACHE_SECONDS or (
        expires_at is not None and expires_at <= (now or utcnow())
    ):
        return None
    return _detached_user(attributes)


def _detached_user(attributes: dict[str, Any]) -> User:
    """A user from their columns' values, detached with its identity: read, never flushed."""
    user = User(**attributes)
    make_transient_to_detached(user)
    return user


def forget_checked_tokens() -> None:
    """Forget every token found valid: a token or user has changed (revoked, switched off, given
    another role or team)."""
    _checked.clear()


@dataclass(frozen=True)
class TokenCheck:
    """Who holds a valid token, which token it is, and whether its last use is due to be written."""

    user: User
    token_id: int
    use_due: bool


def check_token(
    session: Session, *, token: str, web: bool = False, now: datetime | None = None
) -> TokenCheck | None:
    """The active user holding this unexpired, unrevoked API token (or, with ``web``, dashboard
    session), or None; reads the database only, and keeps an API token found valid in memory
    (:func:`recently_checked`). The user comes back detached, with every column loaded: to read
    who is asking, not to change them (a change to a user goes through its own services)."""
    if token.startswith(WEB_PREFIX) != web:
        return None
    now = now or utcnow()
    digest = _digest(token)
    rows = read_rows(session, _TOKEN_CHECK, {"digest": digest})  # a digest is unique: one row or none
    if not rows:
        return None
    found = rows[0]
    expired = found.expires_at is not None and found.expires_at <= now
    if found.revoked_at is not None or expired or not found.user_active:
        return None
    attributes = {attribute: getattr(found, f"user_{attribute}") for attribute, _ in _USER_COLUMNS}
    if not web:  # API tokens only: a dashboard session is checked on every page
        if len(_checked) >= _TOKEN_CACHE_SIZE:
            _checked.clear()
        _checked[digest] = (time.monotonic(), attributes, found.expires_at)
    # not on every request: a write per read would serialise them
    due = found.last_used_at is None or now - found.last_used_at > LAST_USED_EVERY
    return TokenCheck(_detached_user(attributes), found.token_id, due)


def record_token_use(session: Session, *, token_id: int, now: datetime | None = None) -> None:
    """Keep when a token was last used (see :func:`check_token`: when due)."""
    session.connection().execute(_TOKEN_USED, {"token_id": token_id, "at": now or utcnow()})


def authenticate(
    session: Session, *, token: str, web: bool = False, now: datetime | None = None
) -> User | None:
    """:func:`check_token`, and its use recorded when due, in the caller's transaction."""
    found = check_token(session, token=token, web=web, now=now)
    if found is None:
        return None
    if found.use_due:
        record_token_use(session, token_id=found.token_id, now=now)
    return found.user


def start_web_session(session: Session, *, user: User, hours: float = 12) -> str:
    """A dashboard login for the user: a token kept like an API token (only its hash) that
    expires after ``hours``; the browser holds it in a cookie."""
    expires = utcnow() + timedelta(hours=hours)
    _, token = issue_token(session, user=user, name=WEB_SESSION, expires_at=expires, web=True)
    return token


def end_web_session(session: Session, *, token: str) -> None:
    """Log out: the session's token stops working (unknown or already ended: nothing to do)."""
    row = _token_row(session, token)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()


def revoke_token(session: Session, *, user: User, prefix: str) -> ApiToken:
    """Revoke the user's token that starts with ``prefix``."""
    rows = session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.prefix.startswith(prefix))
    ).all()
    if len(rows) != 1:
        raise NotFound(f"{len(rows)} tokens of {user.email} start with {prefix!r}; give a longer prefix")
    rows[0].revoked_at = utcnow()
    forget_checked_tokens()
    return rows[0]


def record_write(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditEntry:
    """Add a write to the audit log, in the same transaction as the write itself."""
    entry = AuditEntry(
        at=utcnow(),
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        before=before,
        after=after,
    )
    session.add(entry)
    return entry


Write = tuple[str, str, str, str | None, dict[str, Any] | None, dict[str, Any] | None]


def record_writes(session: Session, *, writes: list[Write]) -> None:
    """Add many writes (actor, action, entity, entity id, before, after) to the audit log in one
    executemany, in the same transaction as the writes: a capture batch's leads, one row each."""
    at = driver_value(session, utcnow())
    rows = [
        (at, actor, action, entity, entity_id, json.dumps(before), json.dumps(after))
        for actor, action, entity, entity_id, before, after in writes
    ]
    columns = ["at", "actor", "action", "entity", "entity_id", "before", "after"]
    bulk_insert(session, AuditEntry.__tablename__, columns, rows)
