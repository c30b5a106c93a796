"""The ledger as reports read it: leads grouped and counted in SQL, named afterwards.

Reports aggregate in the database and bring back counts, never a million rows. Each GROUP BY
is over the leads' own columns (owner, source, territory and product ids, type, month), which
one covering index holds, so the scan reads the index rather than the wide lead rows; the
small result is then named (reps, teams, territories, sources) and summed again where several
ids share a name.

Split credit: when a report looks at reps or teams, a lead counts for its owner and, where its
company's headquarters lie in another territory, a share of it for the credited rep: the
credit assignments add their share to that rep and take it from the owner, in two small
queries over the credited leads alone. Otherwise each lead counts once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import polars as pl
from sqlalchemy import Float, Integer, and_, cast, exists, func, literal, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from leadflow.analytics.dimensions import DIMENSIONS
from leadflow.db import is_sqlite
from leadflow.errors import InvalidRequest
from leadflow.ledger.find import by_name
from leadflow.models import (
    LEAD_TYPES,
    Assignment,
    Lead,
    Product,
    Rep,
    Source,
    Team,
    Territory,
    rep_territories,
    utcnow,
)

CREDITED = ("rep", "team")  # dimensions that count a lead once per credited rep

# the raw columns each dimension is grouped by in SQL, before it is named
DIMENSION_COLUMNS: dict[str, tuple[str, ...]] = {
    "rep": ("owner_id",),
    "team": ("owner_id",),
    "territory": ("territory_id", "owner_id"),  # the lead's territory, else its owner's
    "source": ("source_id",),
    "product": ("product_id",),
    "lead_type": ("lead_type",),
    "month": ("month",),
    "channel": ("self_sourced",),
}

Weighting = Literal["lead", "credit", "debit"]

DIMENSION_COLUMN_TYPES: dict[str, pl.DataType] = {
    "owner_id": pl.Int64(),
    "territory_id": pl.Int64(),
    "source_id": pl.Int64(),
    "product_id": pl.Int64(),
    "lead_type": pl.String(),
    "month": pl.String(),
    "self_sourced": pl.Boolean(),
}


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
    """'YYYY-MM' of a timestamp, in this database's dialect (on SQLite, where timestamps are
    stored as ISO text, its first seven characters)."""
    if is_sqlite(session):
        return func.substr(column, 1, 7)
    return func.to_char(column, "YYYY-MM")


@dataclass
class LeadQuery:
    """What a report selects from, each row's weight, the raw key columns, and the filters."""

    select_from: Any
    weight: Any
    keys: dict[str, Any]
    where: list[ColumnElement[bool]]


def unindexed(session: Session, column: Any) -> Any:
    """``column`` in a form SQLite cannot look up in that column's own index.

    A filter or GROUP BY on the owner would otherwise lead SQLite to the index that starts with
    it (owner and stage) and then to every matching lead's row, scattered over the table (seconds
    for one team when those pages are not cached); as an expression it scans the
    reports' covering index, which holds all it needs and which the other reports keep warm.
    Territory and source need no such care: no index starts with them (migration 0013)."""
    return column + 0 if is_sqlite(session) else column


def lead_conditions(session: Session, filters: ReportFilter) -> list[ColumnElement[bool]]:
    """The filters as conditions on the leads' own columns (names looked up first)."""
    where: list[ColumnElement[bool]] = []
    owner = unindexed(session, Lead.owner_id)
    if filters.since:
        where.append(Lead.created_at >= filters.since)
    if filters.until:
        where.append(Lead.created_at < filters.until)
    if filters.team:
        where.append(owner.in_(team_rep_ids(session, filters.team)))
    if filters.territory:
        territory = _named(session, Territory, filters.territory, "territory")
        name = session.scalar(select(Territory.name).where(Territory.id == territory))
        home = [r for r, home_name in home_territories(session).items() if home_name == name]
        where.append(
            or_(
                Lead.territory_id == territory,
                and_(Lead.territory_id.is_(None), owner.in_(home)),
            )
        )
    if filters.source:
        where.append(Lead.source_id == _named(session, Source, filters.source, "source"))
    if filters.lead_type:
        wanted = " ".join(filters.lead_type.split()).lower()
        if wanted not in LEAD_TYPES:
            raise InvalidRequest(f"no lead type {filters.lead_type!r}; lead types: {', '.join(LEAD_TYPES)}")
        where.append(Lead.lead_type == wanted)
    return where


def _named(session: Session, model: Any, name: str, what: str) -> int:
    """The id of the team, territory or source with this name in any case and spacing; a name
    that matches none is an error that lists the names there are (not an empty report)."""
    found = by_name(session, model, name)
    if found is None:
        names = sorted(session.scalars(select(model.name)))
        shown = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
        raise InvalidRequest(f"no {what} {name!r}; {what}s: {shown or 'none yet'}")
    return int(found.id)


def lead_query(
    session: Session, *, by: list[str], filters: ReportFilter, weighting: Weighting = "lead"
) -> LeadQuery:
    """The FROM clause, row weight, raw keys and filters of a report grouped ``by``.

    ``lead``: every lead once, its rep the owner. ``credit``: the credit assignments, each
    for its rep with its share. ``debit``: the same, taking the share from the lead's owner."""
    unknown = [d for d in by if d not in DIMENSIONS]
    if unknown:
        raise InvalidRequest(f"unknown dimension {', '.join(unknown)}; choose from {', '.join(DIMENSIONS)}")
    rep: Any = Lead.owner_id
    if weighting == "lead":
        joined: Any = Lead.__table__
        weight: Any = cast(literal(1.0), Float)
    else:
        joined = Assignment.__table__.join(
            Lead,
            and_(Assignment.lead_id == Lead.id, Assignment.role == "credit", Assignment.ended_at.is_(None)),
        )
        weight = Assignment.credit_share if weighting == "credit" else -Assignment.credit_share
        rep = Assignment.rep_id if weighting == "credit" else Lead.owner_id
    columns: dict[str, Any] = {
        # grouped as an expression: see unindexed()
        "owner_id": unindexed(session, rep) if weighting != "credit" else rep,
        "territory_id": Lead.territory_id,
        "source_id": Lead.source_id,
        "product_id": Lead.product_id,
        "lead_type": Lead.lead_type,
        "month": Lead.created_month,
        "self_sourced": Lead.self_sourced,
    }
    keys = {k: columns[k] for d in by for k in DIMENSION_COLUMNS[d]}
    return LeadQuery(joined, weight, keys, lead_conditions(session, filters))


def home_territories(session: Session) -> dict[int, str]:
    """Each rep's territory (the first by name when they cover several)."""
    rows = session.execute(
        select(rep_territories.c.rep_id, func.min(Territory.name))
        .join(Territory, Territory.id == rep_territories.c.territory_id)
        .group_by(rep_territories.c.rep_id)
    ).all()
    return {r: name for r, name in rows}


def team_rep_ids(session: Session, ref: str) -> list[int]:
    """The ids of a team's reps, the team named in any case (an unknown name is refused)."""
    team = _named(session, Team, ref, "team")
    return list(session.scalars(select(Rep.id).where(Rep.team_id == team)))


def owner_names(session: Session, dimension: str) -> pl.Expr:
    """``owner_id`` as reports name it: the rep's name (``rep``) or their team's (``team``)."""
    if dimension == "rep":
        names = dict(session.execute(select(Rep.id, Rep.name)).all())
        return pl.col("owner_id").replace_strict(names, default="(unassigned)", return_dtype=pl.String)
    teams = dict(session.execute(select(Rep.id, Team.name).join(Team, Team.id == Rep.team_id)).all())
    return pl.col("owner_id").replace_strict(teams, default="(no team)", return_dtype=pl.String)


def name_dimensions(
    session: Session, frame: pl.DataFrame, by: list[str], measures: list[str]
) -> pl.DataFrame:
    """Turn raw keys into the names reports show, and sum rows that end up with one name."""
    if not by:
        return frame.select(pl.col(m).sum() for m in measures)

    def lookup(rows: Any) -> dict[Any, str]:
        return {k: v for k, v in rows}

    named: list[pl.Expr] = []
    for dimension in by:
        if dimension in ("rep", "team"):
            expr = owner_names(session, dimension)
        elif dimension == "territory":
            territories = lookup(session.execute(select(Territory.id, Territory.name)).all())
            home = home_territories(session)
            expr = pl.coalesce(
                pl.col("territory_id").replace_strict(territories, default=None, return_dtype=pl.String),
                pl.col("owner_id").replace_strict(home, default=None, return_dtype=pl.String),
                pl.lit("(none)"),
            )
        elif dimension in ("source", "product"):
            model = Source if dimension == "source" else Product
            names = lookup(session.execute(select(model.id, model.name)).all())
            expr = pl.col(f"{dimension}_id").replace_strict(names, default="(none)", return_dtype=pl.String)
        elif dimension == "lead_type":
            expr = pl.col("lead_type").fill_null("(none)")
        elif dimension == "month":
            expr = pl.col("month").fill_null("(no date)")
        else:
            expr = (
                pl.when(pl.col("self_sourced")).then(pl.lit("self-sourced")).otherwise(pl.lit("distributed"))
            )
        named.append(expr.alias(dimension))
    return (
        frame.with_columns(*named)
        .group_by(by, maintain_order=True)
        .agg(pl.col(m).sum() for m in measures)
        .sort(by, nulls_last=True)
    )


def weightings(session: Session, *, by: list[str]) -> list[Weighting]:
    """The parts a report grouped ``by`` sums: every lead once, and, when it looks at reps or
    teams and any lead's credit is split, the credit shares given and taken."""
    if any(d in CREDITED for d in by) and session.scalar(
        select(exists().where(Assignment.role == "credit", Assignment.ended_at.is_(None)))
    ):
        return ["lead", "credit", "debit"]
    return ["lead"]


def key_column(key: str) -> pl.Expr:
    """A raw key as grouped in SQL, in its type (``DIMENSION_COLUMN_TYPES``); the month as 'YYYY-MM'."""
    if key == "month":
        return month_label(pl.col("month").cast(pl.Int64)).alias("month")
    return pl.col(key).cast(DIMENSION_COLUMN_TYPES[key])


def month_label(months: pl.Expr) -> pl.Expr:
    """'YYYY-MM' of a ``created_month`` (months since the year 0)."""
    year = (months // 12).cast(pl.String).str.zfill(4)
    month = (months % 12 + 1).cast(pl.String).str.zfill(2)
    return pl.concat_str(year, pl.lit("-"), month)


def days_between(session: Session, start: Any, end: Any) -> ColumnElement[Any]:
    """Whole days from ``start`` to ``end`` in this database's dialect, as ``Lead.closed_days``
    counts them: truncated on SQLite, floored on PostgreSQL."""
    if is_sqlite(session):
        return cast(func.julianday(end) - func.julianday(start), Integer)
    return func.floor(func.extract("epoch", end - start) / 86400)


def latest_date(session: Session) -> datetime:
    """The newest date the ledger knows (a lead created, won or lost): "now" for its history."""
    # each the last entry of an index: the reports' (by creation) and the won and lost dates' own
    newest = [
        session.scalar(select(func.max(column)).where(column.is_not(None)))
        for column in (Lead.created_at, Lead.won_at, Lead.lost_at)
    ]
    known = [d for d in newest if d is not None]
    return max(known) if known else utcnow()
