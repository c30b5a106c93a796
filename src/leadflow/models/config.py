"""The settings kept in the ledger: each version whole, with who changed what and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadflow.models.base import Base


class SettingsVersion(Base):
    """One version of everything leadflow.toml can say; the newest is in force. ``changes`` holds
    each setting changed from the version before, by its dotted path, as [before, after]."""

    __tablename__ = "settings_versions"
    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[dict[str, Any]]
    digest: Mapped[str] = mapped_column(String(64))
    changed_by: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(String(500))
    changes: Mapped[dict[str, Any]]


class SavedView(Base):
    """A list of leads as one user left it (search, filters, sort), kept under a name of theirs."""

    __tablename__ = "saved_views"
    __table_args__ = (UniqueConstraint("user_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    query: Mapped[str] = mapped_column(String(2000))  # the list's query string
