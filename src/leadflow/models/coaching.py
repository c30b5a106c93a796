"""Coaching: goals set on the metrics that drive results, and the notes of coaching sessions."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from leadflow.models.base import Base

GOAL_METRICS = (
    "leads_worked",  # share of the leads issued that got a first touch
    "first_touch_hours",  # median hours from assignment to first touch (lower is better)
    "activities_per_win",  # calls, emails and meetings per deal won (lower is better)
    "opportunities",  # leads that became an opportunity
    "conversion",  # won / (won + lost)
    "wins",
    "revenue",
)


class Goal(Base):
    """A target for one rep (or a whole team) on one metric over a period [starts_on, ends_on)."""

    __tablename__ = "goals"
    __table_args__ = (
        CheckConstraint("(rep_id IS NULL) <> (team_id IS NULL)", name="rep_or_team"),
        CheckConstraint("ends_on > starts_on", name="period"),
        Index("ix_goals_period", "starts_on", "ends_on"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    metric: Mapped[str] = mapped_column(String(40))
    target: Mapped[float] = mapped_column(Float)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    set_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class CoachingNote(Base):
    """What a manager and a rep discussed, the action agreed and when to follow up."""

    __tablename__ = "coaching_notes"
    __table_args__ = (Index("ix_coaching_notes_follow_up", "follow_up_on", "done_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]
    discussed: Mapped[str] = mapped_column(Text)
    action: Mapped[str | None] = mapped_column(Text)
    follow_up_on: Mapped[date | None] = mapped_column(Date)
    done_at: Mapped[datetime | None]
