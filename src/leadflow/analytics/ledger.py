"""The ledger as reports read it: leads with their credited rep, grouped and counted in SQL.

Reports aggregate in the database (one GROUP BY per report) and bring back counts, never a
million rows. When a report looks at reps or teams, each lead counts once per credited rep,
weighted by the rep's credit share (an owner and a split-credit rep with 50% each count half a
lead, half a win, each); otherwise each lead counts once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

import polars as pl
from sqlalchemy import Float, Integer, and_, case, cast, func, literal, or_, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import Executable
from sqlalchemy.sql.elements import ColumnElement

from leadflow.db import is_sqlite
from leadflow.models import (
    Activity,
    Assignment,
    Lead,
    Product,
    Rep,
    Source,
    StageChange,
    Team,
    Territory,
    rep_territories,
)

Dimension = Literal["rep", "team", "territory", "source", "lead_type", "product", "month", "channel"]
DIMENSIONS: tuple[str, ...] = get_args(Dimension)
CREDITED = ("rep", "team")  # dimensions that count a lead once per credited rep


@dataclass(frozen=True)
class ReportFilter:
    """Which leads a report looks at: created in [since, until), and by team (the owner's),
    territory (the lead's, else its owner's), source and lead type (names as in reports)."""

    since: datetime | None = None
    until: datetime | None = None
    team: str | None = None
    territory: str | None = None
    source: str | None = None
    lead_type: str | None = None


def month_of(session: Session, column: Any) -> ColumnElement[str]:
    """'YYYY-MM' of a timestamp, in this database's dialect."""
    if is_sqlite(session):
        return func.strftime("%Y-%m", column)
    return func.to_char(column, "YYYY-MM")


@dataclass
class LeadQuery:
    """The joins a report needs, the weight of each row, and a way to name each dimension."""

    select_from: Any
    weight: ColumnElement[float]
    columns: dict[str, ColumnElement[Any]]
    where: list[ColumnElement[bool]]


def lead_query(session: Session, *, by: list[str], filters: ReportFilter) -> LeadQuery:
    """Build the FROM clause, row weight, dimension columns and filters for a report on leads."""
    unknown = [d for d in by if d not in DIMENSIONS]
    if unknown:
        raise ValueError(f"unknown dimension {', '.join(unknown)}; choose from {', '.join(DIMENSIONS)}")
    credited = any(d in CREDITED for d in by)
    owner_team = aliased(Team)
    owner = aliased(Rep)
    source = aliased(Source)
    territory = aliased(Territory)
    product = aliased(Product)
    joined: Any = Lead.__table__
    if credited:
        assignment = aliased(Assignment)
        rep, team = aliased(Rep), aliased(Team)
        joined = joined.outerjoin(
            assignment,
            and_(
                assignment.lead_id == Lead.id,
                assignment.ended_at.is_(None),
                assignment.rep_id.is_not(None),
            ),
        )
        joined = joined.outerjoin(rep, rep.id == assignment.rep_id).outerjoin(team, team.id == rep.team_id)
        weight: ColumnElement[float] = func.coalesce(assignment.credit_share, literal(1.0))
        rep_column: ColumnElement[Any] = func.coalesce(rep.name, literal("(unassigned)"))
        team_column: ColumnElement[Any] = func.coalesce(team.name, literal("(no team)"))
    else:
        weight = cast(literal(1.0), Float)
    if "source" in by or filters.source:
        joined = joined.outerjoin(source, source.id == Lead.source_id)
    if "territory" in by or filters.territory:
        # a lead's territory, else its owner's (imported leads often carry only their rep)
        home = (
            select(rep_territories.c.rep_id, func.min(Territory.name).label("name"))
            .join(Territory, Territory.id == rep_territories.c.territory_id)
            .group_by(rep_territories.c.rep_id)
            .subquery("home")
        )
        joined = joined.outerjoin(territory, territory.id == Lead.territory_id).outerjoin(
            home, home.c.rep_id == Lead.owner_id
        )
        territory_column = func.coalesce(territory.name, home.c.name)
    if "product" in by:
        joined = joined.outerjoin(product, product.id == Lead.product_id)
    if filters.team:
        joined = joined.outerjoin(owner, owner.id == Lead.owner_id).outerjoin(
            owner_team, owner_team.id == owner.team_id
        )
    columns: dict[str, ColumnElement[Any]] = {}
    for name in by:
        if name == "rep":
            columns[name] = rep_column
        elif name == "team":
            columns[name] = team_column
        elif name == "territory":
            columns[name] = func.coalesce(territory_column, literal("(none)"))
        elif name == "source":
            columns[name] = func.coalesce(source.name, literal("(none)"))
        elif name == "product":
            columns[name] = func.coalesce(product.name, literal("(none)"))
        elif name == "lead_type":
            columns[name] = func.coalesce(Lead.lead_type, literal("(none)"))
        elif name == "month":
            columns[name] = func.coalesce(month_of(session, Lead.created_at), literal("(no date)"))
        elif name == "channel":
            columns[name] = case((Lead.self_sourced, literal("self-sourced")), else_=literal("distributed"))
    where: list[ColumnElement[bool]] = []
    if filters.since:
        where.append(Lead.created_at >= filters.since)
    if filters.until:
        where.append(Lead.created_at < filters.until)
    if filters.team:
        where.append(owner_team.name == filters.team)
    if filters.territory:
        where.append(territory_column == filters.territory)
    if filters.source:
        where.append(source.name == filters.source)
    if filters.lead_type:
        where.append(Lead.lead_type == filters.lead_type)
    return LeadQuery(joined, weight, columns, where)


def outcome_counts(weight: ColumnElement[float]) -> list[ColumnElement[Any]]:
    """Leads, worked (first touch known), won, lost, closed and open, each weighted."""

    def share(condition: ColumnElement[bool]) -> ColumnElement[Any]:
        return func.sum(case((condition, weight), else_=0.0))

    return [
        func.sum(weight).label("leads"),
        share(Lead.first_touch_at.is_not(None)).label("worked"),
        share(Lead.stage == "won").label("won"),
        share(Lead.stage == "lost").label("lost"),
        share(Lead.stage.in_(("won", "lost"))).label("closed"),
        share(Lead.stage.not_in(("won", "lost", "disqualified"))).label("open"),
    ]


def grouped(session: Session, query: Executable, columns: list[str]) -> pl.DataFrame:
    """Run a GROUP BY and return its rows as a frame (counts as floats: credit shares split)."""
    rows = session.execute(query).all()
    return pl.DataFrame(rows, schema=columns, orient="row", infer_schema_length=None)


def count_by(session: Session, *, by: list[str], filters: ReportFilter) -> pl.DataFrame:
    """Weighted lead outcome counts for every combination of ``by`` (columns named as ``by``)."""
    q = lead_query(session, by=by, filters=filters)
    keys = [q.columns[d].label(d) for d in by]
    counts = outcome_counts(q.weight)
    query = select(*keys, *counts).select_from(q.select_from).where(*q.where)
    if keys:
        query = query.group_by(*[q.columns[d] for d in by]).order_by(*[q.columns[d] for d in by])
    names = [*by, *(c.name for c in counts)]
    frame = grouped(session, query, names)
    measures = ["leads", "worked", "won", "lost", "closed", "open"]
    return frame.with_columns(pl.col(m).cast(pl.Float64).fill_null(0.0) for m in measures)


def rep_outcomes(
    session: Session, *, filters: ReportFilter, recent_start: datetime, past_start: datetime
) -> pl.DataFrame:
    """Per credited rep, weighted: leads, won, lost; over closed leads the sum of their win
    probabilities and of p(1 - p) (what the leads promised, and its variance); the mean win
    probability of all their leads (their mix); and won and lost closed in [past_start,
    recent_start) and from recent_start on."""
    q = lead_query(session, by=["rep"], filters=filters)
    w = q.weight
    closed = Lead.stage.in_(("won", "lost"))
    p = Lead.win_probability

    def total(value: Any, condition: ColumnElement[bool] | None = None) -> ColumnElement[Any]:
        return func.sum(value if condition is None else case((condition, value), else_=0.0))

    recent = Lead.created_at >= recent_start
    past = and_(Lead.created_at >= past_start, Lead.created_at < recent_start)
    measures = {
        "leads": total(w),
        "won": total(w, Lead.stage == "won"),
        "lost": total(w, Lead.stage == "lost"),
        "scored_closed": total(w, and_(closed, p.is_not(None))),
        "won_scored": total(w, and_(Lead.stage == "won", p.is_not(None))),
        "expected_won": total(w * p, closed),
        "expected_variance": total(w * p * (1 - p), closed),
        "mix_sum": total(w * p, p.is_not(None)),
        "mix_leads": total(w, p.is_not(None)),
        "recent_won": total(w, and_(Lead.stage == "won", recent)),
        "recent_lost": total(w, and_(Lead.stage == "lost", recent)),
        "past_won": total(w, and_(Lead.stage == "won", past)),
        "past_lost": total(w, and_(Lead.stage == "lost", past)),
    }
    rep = q.columns["rep"]
    query = (
        select(rep.label("rep"), *(m.label(n) for n, m in measures.items()))
        .select_from(q.select_from)
        .where(*q.where)
        .group_by(rep)
        .order_by(rep)
    )
    frame = grouped(session, query, ["rep", *measures])
    return frame.with_columns(pl.col(n).cast(pl.Float64).fill_null(0.0) for n in measures)


def days_between(session: Session, start: Any, end: Any) -> ColumnElement[Any]:
    """Whole days from ``start`` to ``end`` (floored), in this database's dialect."""
    if is_sqlite(session):
        return cast(func.julianday(end) - func.julianday(start), Integer)
    return func.floor(func.extract("epoch", end - start) / 86400)


def closing_times(session: Session, *, filters: ReportFilter, as_of: datetime) -> pl.DataFrame:
    """Leads counted by creation month, outcome (won, lost, open) and whole days from creation
    to the outcome, or to ``as_of`` for open leads (censored there). Disqualified leads are left
    out: they were never a sale that could close."""
    q = lead_query(session, by=["month"], filters=filters)
    outcome = case(
        (Lead.stage == "won", literal("won")),
        (Lead.stage == "lost", literal("lost")),
        else_=literal("open"),
    )
    ended = case(
        (Lead.stage == "won", Lead.won_at),
        (Lead.stage == "lost", Lead.lost_at),
        else_=literal(as_of),
    )
    days = days_between(session, Lead.created_at, ended)
    month = q.columns["month"]
    query = (
        select(month.label("cohort"), outcome.label("outcome"), days.label("days"), func.count())
        .select_from(q.select_from)
        .where(
            *q.where,
            Lead.created_at.is_not(None),
            Lead.created_at <= as_of,
            Lead.stage != "disqualified",
            ended.is_not(None),
        )
        .group_by(month, outcome, days)
    )
    frame = grouped(session, query, ["cohort", "outcome", "days", "leads"])
    return frame.with_columns(pl.col("days").cast(pl.Float64), pl.col("leads").cast(pl.Float64))


def reached_opportunity(select_from: Any) -> tuple[Any, ColumnElement[bool]]:
    """Join what tells whether a lead ever became an opportunity: its stage now (opportunity or
    won) or a stage change to opportunity in its history."""
    became = (
        select(StageChange.lead_id)
        .where(StageChange.to_stage == "opportunity")
        .group_by(StageChange.lead_id)
        .subquery("became_opportunity")
    )
    joined = select_from.outerjoin(became, became.c.lead_id == Lead.id)
    return joined, or_(became.c.lead_id.is_not(None), Lead.stage.in_(("opportunity", "won")))


def source_outcomes(
    session: Session, *, filters: ReportFilter, recent_start: datetime, past_start: datetime
) -> pl.DataFrame:
    """Per source: its costs, leads, opportunities, won, lost, revenue, the months it brought
    leads in, and won and lost of leads created in the past and recent windows."""
    q = lead_query(session, by=["source"], filters=filters)
    joined, opportunity = reached_opportunity(q.select_from)
    source = aliased(Source)
    joined = joined.outerjoin(source, source.id == Lead.source_id)

    def count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
        return func.sum(case((condition, 1.0), else_=0.0))

    recent = Lead.created_at >= recent_start
    past = and_(Lead.created_at >= past_start, Lead.created_at < recent_start)
    name = q.columns["source"]
    measures: dict[str, ColumnElement[Any]] = {
        "cost_per_lead": func.max(source.cost_per_lead),
        "monthly_spend": func.max(source.monthly_spend),
        "leads": func.count(),
        "opportunities": count(opportunity),
        "won": count(Lead.stage == "won"),
        "lost": count(Lead.stage == "lost"),
        "revenue": func.sum(case((Lead.stage == "won", func.coalesce(Lead.amount, 0.0)), else_=0.0)),
        "months": func.count(func.distinct(month_of(session, Lead.created_at))),
        "recent_won": count(and_(Lead.stage == "won", recent)),
        "recent_lost": count(and_(Lead.stage == "lost", recent)),
        "past_won": count(and_(Lead.stage == "won", past)),
        "past_lost": count(and_(Lead.stage == "lost", past)),
    }
    query = (
        select(name.label("source"), *(m.label(n) for n, m in measures.items()))
        .select_from(joined)
        .where(*q.where)
        .group_by(name)
        .order_by(name)
    )
    frame = grouped(session, query, ["source", *measures])
    return frame.with_columns(pl.col(n).cast(pl.Float64) for n in measures)


def whole_hours_between(session: Session, start: Any, end: Any) -> ColumnElement[Any]:
    """Whole hours from ``start`` to ``end`` (floored), in this database's dialect; on SQLite
    rounded to the second first, as its day fractions are not exact."""
    if is_sqlite(session):
        seconds = cast(func.round((func.julianday(end) - func.julianday(start)) * 86400.0), Integer)
        return cast(func.round((seconds - seconds % 3600) / 3600), Integer)
    return func.floor(func.extract("epoch", end - start) / 3600.0)


def funnel_counts(session: Session, *, filters: ReportFilter) -> dict[str, float]:
    """Leads that reached each stage (inquiry: all; lead: assigned or moved on; opportunity;
    won), the lost, activities and calls on won leads."""
    q = lead_query(session, by=[], filters=filters)
    joined, opportunity = reached_opportunity(q.select_from)
    reached_lead = or_(Lead.owner_id.is_not(None), Lead.stage.not_in(("inquiry", "disqualified")))

    def count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
        return func.sum(case((condition, 1.0), else_=0.0))

    row = session.execute(
        select(
            func.count().label("inquiry"),
            count(reached_lead).label("lead"),
            count(opportunity).label("opportunity"),
            count(Lead.stage == "won").label("won"),
            count(Lead.stage == "lost").label("lost"),
        )
        .select_from(joined)
        .where(*q.where)
    ).one()
    work = (
        select(func.count(), func.sum(case((Activity.kind == "call", 1.0), else_=0.0)))
        .select_from(q.select_from.join(Activity, Activity.lead_id == Lead.id))
        .where(*q.where, Lead.stage == "won")
    )
    activities, calls = session.execute(work).one()
    counts = {k: float(v or 0.0) for k, v in row._mapping.items()}
    return {**counts, "won_activities": float(activities or 0), "won_calls": float(calls or 0)}


def speed_to_lead(session: Session, *, filters: ReportFilter, assigned_before: datetime) -> pl.DataFrame:
    """Leads assigned before ``assigned_before`` by whole hours from assignment to first touch
    (null: never touched), with won and lost among them, and the source's id (to cost the
    never-worked)."""
    q = lead_query(session, by=[], filters=filters)
    hours = whole_hours_between(session, Lead.assigned_at, Lead.first_touch_at)
    query = (
        select(
            hours.label("hours"),
            Lead.source_id,
            func.count(),
            func.sum(case((Lead.stage == "won", 1.0), else_=0.0)),
            func.sum(case((Lead.stage == "lost", 1.0), else_=0.0)),
        )
        .select_from(q.select_from)
        .where(*q.where, Lead.assigned_at < assigned_before, Lead.self_sourced.is_(False))
        .group_by(hours, Lead.source_id)
    )
    frame = grouped(session, query, ["hours", "source_id", "leads", "won", "lost"])
    return frame.with_columns(pl.col(c).cast(pl.Float64) for c in ("hours", "leads", "won", "lost"))


def capacity_use(session: Session, *, filters: ReportFilter) -> pl.DataFrame:
    """Per rep: leads issued to them (owner assignments) per month of the period, and capacity."""
    q = lead_query(session, by=[], filters=filters)
    month = month_of(session, Assignment.at)
    query = (
        select(Rep.name, Rep.capacity, month.label("month"), func.count())
        .select_from(q.select_from.join(Assignment, Assignment.lead_id == Lead.id))
        .join(Rep, Rep.id == Assignment.rep_id)
        .where(*q.where, Assignment.role == "owner")
        .group_by(Rep.name, Rep.capacity, month)
    )
    frame = grouped(session, query, ["rep", "capacity", "month", "leads"])
    return frame.with_columns(pl.col("leads").cast(pl.Float64), pl.col("capacity").cast(pl.Float64))
