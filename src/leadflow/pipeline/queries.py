"""Reads of the ledger for lists, exports and a lead's full story; one query each, no N+1."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import polars as pl
from sqlalchemy import Select, Text, and_, cast, func, or_, select
from sqlalchemy.orm import Session, aliased

from leadflow.errors import InvalidRequest
from leadflow.ledger.extras import decode_extras
from leadflow.models import (
    Activity,
    Assignment,
    Lead,
    LeadChange,
    Product,
    Rep,
    RoutingRun,
    Source,
    StageChange,
    Team,
    Territory,
    rep_territories,
)

LEAD_EXPORT_COLUMNS = [
    "id",
    "external_id",
    "created_at",
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "company",
    "domain",
    "industry",
    "company_size",
    "annual_revenue",
    "country",
    "region",
    "city",
    "territory",
    "source",
    "lead_type",
    "budget",
    "authority",
    "need",
    "timeline",
    "owner",
    "assigned_at",
    "first_touch_at",
    "stage",
    "won_at",
    "lost_at",
    "amount",
    "product",
    "lost_reason",
    "fit_score",
    "win_probability",
    "grade",
    "self_sourced",
    "follow_up_at",
]


@dataclass(frozen=True)
class LeadFilter:
    """Which leads a list or export shows; every field optional."""

    stage: str | None = None
    owner_id: int | None = None
    source: str | None = None
    unassigned: bool = False
    search: str | None = None
    limit: int | None = None
    after_id: int | None = None  # a page of leads after this id (cursor pagination)
    owner_in: tuple[int, ...] | None = None  # only leads of these reps (a manager's team)
    with_unassigned: bool = False  # with owner_in: unassigned leads too
    grade: str | None = None
    territory: str | None = None
    lead_ids: tuple[int, ...] | None = None  # only these (e.g. those past a deadline)
    sort: str = "id"  # one of SORTABLE
    descending: bool = False
    offset: int = 0  # a numbered page: skip this many


# what a list may be sorted by; ties by id, so that pages do not overlap
SORTABLE = ("id", "created_at", "company", "stage", "owner", "grade", "fit_score", "win_probability",
            "assigned_at", "follow_up_at")  # fmt: skip


def _lead_select(filters: LeadFilter) -> Select[Any]:
    owner = aliased(Rep)
    columns = {
        "owner": owner.external_id,
        "territory": Territory.name,
        "source": Source.name,
        "product": Product.name,
    }
    selected = [columns[c] if c in columns else getattr(Lead, c) for c in LEAD_EXPORT_COLUMNS]
    query = (
        select(*[c.label(n) for c, n in zip(selected, LEAD_EXPORT_COLUMNS, strict=True)])
        .outerjoin(owner, Lead.owner_id == owner.id)
        .outerjoin(Territory, Lead.territory_id == Territory.id)
        .outerjoin(Source, Lead.source_id == Source.id)
        .outerjoin(Product, Lead.product_id == Product.id)
    )
    if filters.sort not in SORTABLE:
        raise InvalidRequest(f"cannot sort by {filters.sort!r}: by one of {', '.join(SORTABLE)}")
    key = columns.get(filters.sort, getattr(Lead, filters.sort))
    if filters.sort != "id":
        query = query.order_by(key.desc().nulls_last() if filters.descending else key.asc().nulls_last())
    query = query.order_by(Lead.id.desc() if filters.descending else Lead.id)
    if filters.stage:
        query = query.where(Lead.stage == filters.stage)
    if filters.owner_id is not None:
        query = query.where(Lead.owner_id == filters.owner_id)
    if filters.unassigned:
        query = query.where(Lead.owner_id.is_(None))
    if filters.source:
        query = query.where(func.lower(Source.name) == filters.source.lower())
    if filters.search:
        like = f"%{filters.search.lower()}%"
        query = query.where(
            or_(
                func.lower(Lead.company).like(like),
                Lead.email_key.like(like),
                func.lower(Lead.last_name).like(like),
                func.lower(Lead.external_id).like(like),
            )
        )
    if filters.grade:
        query = query.where(Lead.grade == filters.grade)
    if filters.territory:
        query = query.where(func.lower(Territory.name) == filters.territory.lower())
    if filters.lead_ids is not None:
        query = query.where(Lead.id.in_(filters.lead_ids))
    if filters.after_id is not None:
        query = query.where(Lead.id > filters.after_id)
    if filters.owner_in is not None:
        mine = Lead.owner_id.in_(filters.owner_in)
        query = query.where(or_(mine, Lead.owner_id.is_(None)) if filters.with_unassigned else mine)
    if filters.limit:
        query = query.limit(filters.limit)
    if filters.offset:
        query = query.offset(filters.offset)
    return query


def count_leads(session: Session, *, filters: LeadFilter) -> int:
    """How many leads match the filters (all pages)."""
    unpaged = replace(filters, limit=None, offset=0, after_id=None, sort="id")
    counted = _lead_select(unpaged).order_by(None).with_only_columns(func.count(Lead.id))
    return int(session.execute(counted).scalar_one())


def list_leads(session: Session, *, filters: LeadFilter, with_extras: bool = False) -> pl.DataFrame:
    """Leads matching the filters with the canonical export columns (owner as external id);
    with ``with_extras``, each extra attribute too, as a column of its own after them."""
    if not with_extras:
        rows = session.execute(_lead_select(filters)).all()
        return pl.DataFrame(rows, schema=LEAD_EXPORT_COLUMNS, orient="row", infer_schema_length=None)
    rows = session.execute(_lead_select(filters).add_columns(cast(Lead.extra, Text))).all()
    frame = pl.DataFrame(
        rows, schema=[*LEAD_EXPORT_COLUMNS, "_extra"], orient="row", infer_schema_length=None
    )
    decoded = decode_extras(frame["_extra"])
    decoded = decoded.rename({c: f"extra_{c}" for c in decoded.columns if c in LEAD_EXPORT_COLUMNS})
    return pl.concat([frame.drop("_extra"), decoded], how="horizontal")


def list_reps(session: Session) -> pl.DataFrame:
    """Reps with team, manager, territories, capacity, active, and how many leads they own."""
    owned = select(Lead.owner_id, func.count().label("n")).group_by(Lead.owner_id).subquery()
    territories = (
        select(rep_territories.c.rep_id, Territory.name)
        .join(Territory, Territory.id == rep_territories.c.territory_id)
        .order_by(Territory.name)
    )
    names: dict[int, list[str]] = {}
    for rep_id, name in session.execute(territories).all():
        names.setdefault(rep_id, []).append(name)
    rows = session.execute(
        select(
            Rep.id,
            Rep.external_id,
            Rep.name,
            Rep.email,
            Team.name,
            Rep.manager,
            Rep.capacity,
            Rep.active,
            func.coalesce(owned.c.n, 0),
        )
        .outerjoin(Team, Rep.team_id == Team.id)
        .outerjoin(owned, owned.c.owner_id == Rep.id)
        .order_by(Rep.name)
    ).all()
    return pl.DataFrame(
        [(*r[:6], ";".join(names.get(r[0], [])), *r[6:]) for r in rows],
        schema=[
            "id",
            "external_id",
            "name",
            "email",
            "team",
            "manager",
            "territory",
            "capacity",
            "active",
            "leads",
        ],
        orient="row",
    )


@dataclass
class LeadStory:
    """A lead and everything that happened to it, oldest first."""

    lead: dict[str, Any]
    assignments: list[dict[str, Any]]
    activities: list[dict[str, Any]]
    stages: list[dict[str, Any]]
    changes: list[dict[str, Any]]


def lead_story(session: Session, *, lead_id: int) -> LeadStory:
    """The lead's fields and its assignments, activities, stage changes and field history."""
    row = session.execute(_lead_select(LeadFilter()).add_columns(Lead.extra).where(Lead.id == lead_id)).one()
    rep_name = aliased(Rep)

    def rows(query: Any) -> list[dict[str, Any]]:
        return [dict(r._mapping) for r in session.execute(query).all()]

    assignments = rows(
        select(
            Assignment.at,
            rep_name.name.label("rep"),
            Assignment.policy,
            Assignment.reason,
            Assignment.role,
            Assignment.credit_share,
            Assignment.by,
            Assignment.ended_at,
            Assignment.inputs,
            RoutingRun.context,
        )
        .outerjoin(rep_name, Assignment.rep_id == rep_name.id)
        .outerjoin(RoutingRun, RoutingRun.id == Assignment.run_id)
        .where(Assignment.lead_id == lead_id)
        .order_by(Assignment.at, Assignment.id)
    )
    for assignment in assignments:  # the run's shared context (eligible, excluded...) and the lead's own
        context, inputs = assignment.pop("context") or {}, assignment["inputs"] or {}
        assignment["inputs"] = {**context.get(inputs.get("group"), {}), **inputs} or None
    return LeadStory(
        lead=dict(row._mapping),
        assignments=assignments,
        activities=rows(
            select(
                Activity.at,
                rep_name.name.label("rep"),
                Activity.kind,
                Activity.outcome,
                Activity.note,
            )
            .outerjoin(rep_name, and_(Activity.rep_id == rep_name.id))
            .where(Activity.lead_id == lead_id)
            .order_by(Activity.at, Activity.id)
        ),
        stages=rows(
            select(
                StageChange.at,
                StageChange.from_stage,
                StageChange.to_stage,
                StageChange.by,
                StageChange.reason,
            )
            .where(StageChange.lead_id == lead_id)
            .order_by(StageChange.at, StageChange.id)
        ),
        changes=rows(
            select(
                LeadChange.at,
                LeadChange.field,
                LeadChange.old_value,
                LeadChange.new_value,
                LeadChange.by,
            )
            .where(LeadChange.lead_id == lead_id)
            .order_by(LeadChange.at, LeadChange.id)
        ),
    )
