"""The sales organisation: teams, territories, reps and their absences."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    String,
    Table,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from leadflow.models.base import Base

rep_territories = Table(
    "rep_territories",
    Base.metadata,
    Column("rep_id", ForeignKey("reps.id", ondelete="CASCADE"), primary_key=True),
    Column("territory_id", ForeignKey("territories.id", ondelete="CASCADE"), primary_key=True),
)


class Team(Base):
    """A group of reps under one manager, routed by one policy."""

    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    manager: Mapped[str | None] = mapped_column(String(200))
    policy: Mapped[str] = mapped_column(String(40), default="round_robin")
    reps: Mapped[list[Rep]] = relationship(back_populates="team", lazy="raise")


class Territory(Base):
    """A named region of the market; rules map leads to it (first match by priority wins)."""

    __tablename__ = "territories"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    rules: Mapped[dict[str, Any] | None]
    priority: Mapped[int] = mapped_column(default=100)


class Rep(Base):
    """A sales rep: who they are, whom they report to, where they sell and how much they can work."""

    __tablename__ = "reps"
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), index=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    manager: Mapped[str | None] = mapped_column(String(200))
    capacity: Mapped[int | None] = mapped_column(CheckConstraint("capacity >= 0", name="capacity"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    working_hours: Mapped[dict[str, Any] | None]
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")

    team: Mapped[Team | None] = relationship(back_populates="reps", lazy="raise")
    territories: Mapped[list[Territory]] = relationship(secondary=rep_territories, lazy="raise")


class Absence(Base):
    """A window when a rep is away (out of office) and gets no leads."""

    __tablename__ = "absences"
    id: Mapped[int] = mapped_column(primary_key=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(String(200))
