"""Routing's records: assignments (the decision record of every issue), daily rep load, routing
runs, routing state, the queue of unrouted leads and SLA events."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from leadflow.models.base import Base

OPEN_CREDIT = "role = 'credit' AND ended_at IS NULL"


class Assignment(Base):
    """One issue of a lead to a rep (or partner): when, by which policy, why, with what inputs."""

    __tablename__ = "assignments"
    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"), index=True)
    at: Mapped[datetime]
    policy: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    inputs: Mapped[dict[str, Any] | None]
    credit_share: Mapped[float] = mapped_column(Float, default=1.0)
    # "owner": the rep works the lead; "credit": a share of the credit only (split territories).
    role: Mapped[str] = mapped_column(String(10), default="owner", server_default="owner")
    by: Mapped[str] = mapped_column(String(200))
    ended_at: Mapped[datetime | None]
    # a routing run's assignment: the run holds what its leads shared (eligible reps and so on)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("routing_runs.id"))

    __table_args__ = (
        # capacity used this period: a range over owner assignments, covered by the index
        Index("ix_assignments_role_at_rep", "role", "at", "rep_id"),
        # the credit shares in force, which reports by rep or team look for first (and join):
        # without it, asking whether there are any scanned every assignment
        Index(
            "ix_assignments_open_credit",
            "lead_id",
            sqlite_where=text(OPEN_CREDIT),
            postgresql_where=text(OPEN_CREDIT),
        ),
        CheckConstraint("credit_share > 0 AND credit_share <= 1", name="credit_share"),
    )


class RepLoad(Base):
    """Leads issued to each rep (owner assignments) per day: what capacity counts, kept as each
    assignment is written, so that one lead's routing sums a month of days per candidate rep
    instead of counting their assignments."""

    __tablename__ = "rep_load"
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    issued: Mapped[int] = mapped_column(Integer, default=0)


class RoutingRun(Base):
    """One routing run's context, shared by its assignments: per group of leads, the team, the
    policy, the eligible reps, the excluded ones and why, and the seed."""

    __tablename__ = "routing_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    by: Mapped[str] = mapped_column(String(200))
    context: Mapped[dict[str, Any]]


class RoutingState(Base):
    """What a stateful policy remembers between runs: the round-robin pointer, weighted values."""

    __tablename__ = "routing_state"
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    state: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class QueuedLead(Base):
    """A lead routing could not place, and why: over everyone's capacity (reserve, routed first
    when room frees up) or with nobody eligible (unassigned, for a manager to look at)."""

    __tablename__ = "routing_queue"
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    since: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=1)


class SlaEvent(Base):
    """A first-touch deadline passed: the owner escalated, the lead reassigned, or passing capped."""

    __tablename__ = "sla_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    deadline: Mapped[datetime]
    at: Mapped[datetime]
