"""ORM tables: the lead ledger and everything around it (design.md section 2).

Every table shares one MetaData with a naming convention, so Alembic names constraints the same on
SQLite and PostgreSQL. Relationships raise on lazy load: queries say what they fetch.
Timestamps are naive UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

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


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime}


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


class Source(Base):
    """Where leads come from and what they cost: per lead, or spend per month."""

    __tablename__ = "sources"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str | None] = mapped_column(String(100))
    cost_per_lead: Mapped[float | None] = mapped_column(Float)
    monthly_spend: Mapped[float | None] = mapped_column(Float)


class Company(Base):
    """An account: the organisation a lead belongs to."""

    __tablename__ = "companies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    key: Mapped[str] = mapped_column(String(300), unique=True)
    domain: Mapped[str | None] = mapped_column(String(255), index=True)
    industry: Mapped[str | None] = mapped_column(String(100))
    employees: Mapped[int | None]
    annual_revenue: Mapped[float | None] = mapped_column(Float)
    country: Mapped[str | None] = mapped_column(String(100))
    year_established: Mapped[int | None]
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"))


class Product(Base):
    """Something the company sells, with its list price."""

    __tablename__ = "products"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    series: Mapped[str | None] = mapped_column(String(100))
    price: Mapped[float | None] = mapped_column(Float)


class Partner(Base):
    """A distributor that is issued leads and reports results only in aggregate."""

    __tablename__ = "partners"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200), unique=True)


class PartnerReport(Base):
    """A partner's aggregate results for one period."""

    __tablename__ = "partner_reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    leads_worked: Mapped[int]
    won: Mapped[int]
    revenue: Mapped[float] = mapped_column(Float)


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
        # without it, asking whether there are any scanned every assignment (0.1 s a million)
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


class ScoreModel(Base):
    """One trained win-probability model: when, on which window, with which features and metrics."""

    __tablename__ = "score_models"
    id: Mapped[int] = mapped_column(primary_key=True)
    trained_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(40))
    features: Mapped[dict[str, Any]]
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    horizon_days: Mapped[float] = mapped_column(Float)
    n_train: Mapped[int]
    n_test: Mapped[int]
    metrics: Mapped[dict[str, Any]]
    # The fitted estimator, serialised with joblib; only leadflow writes it.
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    # Per value of every attribute, the leads it learned from and their wins (scoring.learned_from);
    # None for models trained before leadflow kept them.
    learned_from: Mapped[dict[str, Any] | None]


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
