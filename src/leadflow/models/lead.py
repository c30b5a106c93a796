"""The lead and its history: activities, stage changes, field changes and merged aliases."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from leadflow.models.base import Base

if TYPE_CHECKING:
    from leadflow.models.catalog import Product, Source
    from leadflow.models.org import Rep, Territory


class Lead(Base):
    """A prospective buyer: who, which company, from where, how good, whose, and what came of it."""

    __tablename__ = "leads"
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime | None]
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(300))
    company: Mapped[str | None] = mapped_column(String(300))
    domain: Mapped[str | None] = mapped_column(String(255))
    industry: Mapped[str | None] = mapped_column(String(100))
    company_size: Mapped[int | None]
    annual_revenue: Mapped[float | None] = mapped_column(Float)
    country: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    city: Mapped[str | None] = mapped_column(String(100))
    lead_type: Mapped[str | None] = mapped_column(String(40))
    budget: Mapped[float | None] = mapped_column(Float)
    authority: Mapped[bool | None]
    need: Mapped[str | None] = mapped_column(String(300))
    timeline: Mapped[str | None] = mapped_column(String(100))
    extra: Mapped[dict[str, Any] | None]

    # No one-column indexes on these: reports read them from ix_leads_report, nothing looks leads
    # up by them alone, and every import, capture and routing write would pay for each.
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id"))
    territory_id: Mapped[int | None] = mapped_column(ForeignKey("territories.id"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))

    self_sourced: Mapped[bool] = mapped_column(Boolean, default=False)
    stage: Mapped[str] = mapped_column(String(20), default="inquiry")
    assigned_at: Mapped[datetime | None]
    first_touch_at: Mapped[datetime | None]
    won_at: Mapped[datetime | None]
    lost_at: Mapped[datetime | None]
    amount: Mapped[float | None] = mapped_column(Float)
    # The reports' numbers, kept by the database itself (a trigger, migration 0017) from the
    # dates above on every write; no code writes them. Whole seconds from assignment to first
    # touch, and whole days from creation to the won or lost date of a won or lost lead: the
    # funnel and the time-to-close curves group by them, and on SQLite subtracting the ISO text
    # dates instead costs a quarter of such a report.
    touch_seconds: Mapped[int | None] = mapped_column(Integer)
    closed_days: Mapped[int | None] = mapped_column(Integer)
    # The month of created_at as months since the year 0 (year * 12 + month - 1), kept by the
    # same trigger (migration 0019): reports group by month without a substring of each date.
    created_month: Mapped[int | None] = mapped_column(Integer)
    # Whether any stage change ever took the lead to opportunity, set by a trigger on the stage
    # changes (migration 0018): the funnel and the source report count the leads that were
    # opportunities once from the reports' index instead of joining the stage changes.
    was_opportunity: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    lost_reason: Mapped[str | None] = mapped_column(String(300))
    follow_up_at: Mapped[datetime | None] = mapped_column(index=True)

    fit_score: Mapped[float | None] = mapped_column(Float)
    win_probability: Mapped[float | None] = mapped_column(Float)
    grade: Mapped[str | None] = mapped_column(String(2))
    # The trained model that gave win_probability (scoring/model.py).
    score_model_id: Mapped[int | None] = mapped_column(ForeignKey("score_models.id"))

    # Normalised keys for deduplication on capture (intake/dedupe.py).
    email_key: Mapped[str | None] = mapped_column(String(320), index=True)
    phone_key: Mapped[str | None] = mapped_column(String(32), index=True)
    domain_key: Mapped[str | None] = mapped_column(String(255))
    person_key: Mapped[str | None] = mapped_column(String(400))

    owner: Mapped[Rep | None] = relationship(lazy="raise")
    source: Mapped[Source | None] = relationship(lazy="raise")
    product: Mapped[Product | None] = relationship(lazy="raise")
    territory: Mapped[Territory | None] = relationship(lazy="raise")

    __table_args__ = (
        CheckConstraint(
            "stage IN ('inquiry','lead','qualified','opportunity','won','lost','nurture','disqualified')",
            name="stage",
        ),
        Index("ix_leads_domain_person", "domain_key", "person_key"),
        Index("ix_leads_owner_stage", "owner_id", "stage"),
        Index("ix_leads_stage_created", "stage", "created_at"),
        # the ledger's newest outcome (its "now" for reports) in one lookup, not a scan
        *(
            Index(
                f"ix_leads_{c}",
                c,
                sqlite_where=text(f"{c} IS NOT NULL"),
                postgresql_where=text(f"{c} IS NOT NULL"),
            )
            for c in ("won_at", "lost_at")
        ),
        # Reports scan this narrow copy of the columns they group and count by, not the wide rows
        # (and date ranges seek in it): 4x faster on a million leads in SQLite.
        Index(
            "ix_leads_report",
            "created_at",
            "stage",
            "self_sourced",
            "owner_id",
            "source_id",
            "territory_id",
            "lead_type",
            "product_id",
            "assigned_at",
            "first_touch_at",
            "won_at",
            "lost_at",
            "amount",
            "win_probability",
            "touch_seconds",
            "closed_days",
            "was_opportunity",
            "created_month",
        ),
    )


class Activity(Base):
    """One contact with a lead and its result."""

    __tablename__ = "activities"
    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)

    # a lead's history in order, and its calls counted without reading the rows (the funnel)
    __table_args__ = (Index("ix_activities_lead_at_kind", "lead_id", "at", "kind"),)


class StageChange(Base):
    """A lead moving from one stage to another: when and by whom."""

    __tablename__ = "stage_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    from_stage: Mapped[str | None] = mapped_column(String(20))
    to_stage: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]
    by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)


class LeadChange(Base):
    """History of a lead's fields: a merge from a duplicate capture or an edit, old and new value."""

    __tablename__ = "lead_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    field: Mapped[str] = mapped_column(String(100))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(300))


class LeadAlias(Base):
    """Another external id of a lead: a duplicate capture that was merged into it."""

    __tablename__ = "lead_aliases"
    external_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    by: Mapped[str] = mapped_column(String(300))
