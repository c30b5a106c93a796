"""Who may do what: users, API tokens, the audit trail, idempotent requests, and notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from leadflow.models.base import Base


class Notification(Base):
    """An outbound message about a lead (assigned, escalated) and its delivery: written in the
    same transaction as what it reports (an outbox), sent afterwards with retries."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(String(40))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"), index=True)
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"))
    channel: Mapped[str] = mapped_column(String(10))  # webhook | email
    target: Mapped[str] = mapped_column(String(1000))  # the URL or the address
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("status IN ('pending','delivered','failed')", name="status"),
        CheckConstraint("channel IN ('webhook','email')", name="channel"),
        Index("ix_notifications_due", "status", "next_attempt_at"),
    )


class User(Base):
    """Someone who signs in or holds API tokens, with one role: admin (everything), manager
    (their team's reps and leads, routing, reports), rep (only their own leads) or intake (only
    capture leads)."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    # argon2 hash; null for a user who only holds API tokens
    password_hash: Mapped[str | None] = mapped_column(String(200))
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]

    __table_args__ = (CheckConstraint("role IN ('admin','manager','rep','intake')", name="role"),)


class ApiToken(Base):
    """An API token: only its SHA-256 is kept (it is shown once), revocable, optionally expiring."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))  # the first characters, to tell tokens apart
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class AuditEntry(Base):
    """Every write through the API: who, what, when, and the record before and after."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(200))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]


class IdempotentRequest(Base):
    """The answer to a request sent with an Idempotency-Key, replayed when the key comes again."""

    __tablename__ = "idempotent_requests"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))  # of method, path and body
    status_code: Mapped[int]
    response: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class LoginFailure(Base):
    """A failed sign-in: a wrong password (with the account tried) or an unknown API token, and the
    address it came from. Repeated failures lock the account or the address for a while."""

    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    email: Mapped[str | None] = mapped_column(String(320))
    address: Mapped[str] = mapped_column(String(100))

    __table_args__ = (
        Index("ix_login_failures_email_at", "email", "at"),
        Index("ix_login_failures_address_at", "address", "at"),
    )
