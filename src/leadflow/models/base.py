"""Shared parts of every table: one declarative Base whose MetaData carries a naming convention (so
Alembic names constraints the same on SQLite and PostgreSQL), the ledger's vocabularies, and its clock.
Timestamps are naive UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    MetaData,
)
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

STAGES = (
    "inquiry",
    "lead",
    "qualified",
    "opportunity",
    "won",
    "lost",
    "nurture",
    "disqualified",
)
CLOSED_STAGES = ("won", "lost", "disqualified")
LEAD_TYPES = (
    "inbound call",
    "web form",
    "referral",
    "list",
    "event",
    "cold call",
    "self-sourced",
)
ACTIVITY_KINDS = ("call", "email", "meeting", "note")
ACTIVITY_OUTCOMES = (
    "connected",
    "no answer",
    "voicemail",
    "meeting set",
    "replied",
    "bounced",
    "not interested",
    "completed",
)


# Ids are 32-bit integers on PostgreSQL: a larger number can be no row's id.
MAX_ID = 2**31 - 1


def utcnow() -> datetime:
    """Now, as the naive UTC timestamps the ledger stores."""
    return datetime.now(UTC).replace(tzinfo=None)


def naive_utc(value: datetime) -> datetime:
    """A time as the ledger stores it: one with a time zone converted to UTC, then without it; a
    naive one is taken to be UTC already."""
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime}
