"""The ledger as reports read it: leads grouped and counted in SQL, named afterwards.

Reports aggregate in the database and bring back counts, never a million rows. Each GROUP BY
is over the leads' own columns (owner, source, territory and product ids, type, month), which
one covering index holds, so the scan reads the index rather than the wide lead rows; the
small result is then named (reps, teams, territories, sources) and summed again where several
ids share a name.

Split credit: when a report looks at reps or teams, a lead counts for its owner and, where its
company's headquarters lie in another territory, a share of it for the credited rep: the
credit assignments add their share to that rep and take it from the owner, in two small
queries over the credited leads alone. Otherwise each lead counts once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time
from typing import Any, Literal, get_args

import polars as pl
from sqlalchemy import Float, Integer, and_, case, cast, exists, func, literal, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable, Select, Subquery
from sqlalchemy.sql.elements import ColumnElement

from leadflow.analytics.packed_keys import Bounded, Packing
from leadflow.db import is_sqlite
from leadflow.models import (
    Activity,
    Assignment,
    Lead,
    Product,
    Rep,
    RepLoad,
    Source,
    Team,
    Territory,
    rep_territories,
)

Dimension = Literal["rep", "team", "territory", "source", "lead_type", "product", "month", "channel"]
DIMENSIONS: tuple[str, ...] = get_args(Dimension)
CREDITED = ("rep", "team")  # dimensions that count a lead once per credited rep
# the raw columns each dimension is grouped by in SQL, before it is named
KEYS: dict[str, tuple[str, ...]] = {
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
KEY_TYPES: dict[str, pl.DataType] = {
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
    it (owner and stage) and then to every matching lead's row, scattered over the table (16 s for
    one team of a million leads when those pages are not cached); as an expression it scans the
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
        members = select(Rep.id).join(Team, Team.id == Rep.team_id).where(Team.name == filters.team)
        where.append(owner.in_(list(session.scalars(members))))
    if filters.territory:
        territory = session.scalar(select(Territory.id).where(Territory.name == filters.territory))
        home = [r for r, name in home_territories(session).items() if name == filters.territory]
        where.append(
            or_(
                Lead.territory_id == (territory or -1),
                and_(Lead.territory_id.is_(None), owner.in_(home)),
            )
        )
    if filters.source:
        source = session.scalar(select(Source.id).where(Source.name == filters.source))
        where.append(Lead.source_id == (source or -1))
    if filters.lead_type:
        where.append(Lead.lead_type == filters.lead_type)
    return where


def lead_query(
    session: Session, *, by: list[str], filters: ReportFilter, weighting: Weighting = "lead"
) -> LeadQuery:
    """The FROM clause, row weight, raw keys and filters of a report grouped ``by``.

    ``lead``: every lead once, its rep the owner. ``credit``: the credit assignments, each
    for its rep with its share. ``debit``: the same, taking the share from the lead's owner."""
    unknown = [d for d in by if d not in DIMENSIONS]
    if unknown:
        raise ValueError(f"unknown dimension {', '.join(unknown)}; choose from {', '.join(DIMENSIONS)}")
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
    keys = {k: columns[k] for d in by for k in KEYS[d]}
    return LeadQuery(joined, weight, keys, lead_conditions(session, filters))


def home_territories(session: Session) -> dict[int, str]:
    """Each rep's territory (the first by name when they cover several)."""
    rows = session.execute(
        select(rep_territories.c.rep_id, func.min(Territory.name))
        .join(Territory, Territory.id == rep_territories.c.territory_id)
        .group_by(rep_territories.c.rep_id)
    ).all()
    return {r: name for r, name in rows}


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
        if dimension == "rep":
            names = lookup(session.execute(select(Rep.id, Rep.name)).all())
            expr = pl.col("owner_id").replace_strict(names, default="(unassigned)", return_dtype=pl.String)
        elif dimension == "team":
            teams = lookup(
                session.execute(select(Rep.id, Team.name).join(Team, Team.id == Rep.team_id)).all()
            )
            expr = pl.col("owner_id").replace_strict(teams, default="(no team)", return_dtype=pl.String)
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


def coroutine(session: Session, query: Select[Any]) -> Subquery:
    """``query`` as a subquery for an outer GROUP BY to count or sum.

    On SQLite with a LIMIT, which keeps it from being merged into the GROUP BY (SQLite never
    flattens a subquery with one into an aggregate): it runs as a co-routine that hands each
    row's few small values to the sorter once. Grouping such rows by a packed state and summing
    little, instead of one flat GROUP BY with a dozen filtered sums, took a third off the reps
    statement on a million leads, and 13-16% off the reps report and the overview page."""
    if is_sqlite(session):
        query = query.limit(-1)
    return query.subquery()


def count_where(where: ColumnElement[bool]) -> ColumnElement[Any]:
    """COUNT of the rows that meet ``where`` (0 when none do), by SQL's FILTER clause, which
    SQLite evaluates only on the rows that count (unlike a CASE inside the aggregate)."""
    return func.count().filter(where)


OUTCOMES = ("leads", "worked", "won", "lost", "closed", "open")
# A lead's state, as the counting passes group by it: a bit for each of these, plus OUTCOME_STEP
# times its outcome's code
REACHED_LEAD, WORKED, OPPORTUNITY, OUTCOME_STEP = 1, 2, 4, 8
OUTCOME_CODES = {"won": 1, "lost": 2, "disqualified": 3}  # any other stage: 0, open
STATES = OUTCOME_STEP * (len(OUTCOME_CODES) + 1)


def outcome_code() -> ColumnElement[Any]:
    """A lead's outcome as its code in ``OUTCOME_CODES`` (0: open)."""
    return case(*((Lead.stage == stage, code) for stage, code in OUTCOME_CODES.items()), else_=0)


def lead_state() -> ColumnElement[Any]:
    """A lead's state as one small integer: whether it reached the lead stage (assigned or moved
    on), was worked (first touch known), was ever an opportunity, and its outcome."""
    reached_lead = or_(Lead.owner_id.is_not(None), Lead.stage.not_in(("inquiry", "disqualified")))
    return (
        case((reached_lead, REACHED_LEAD), else_=0)
        + case((Lead.first_touch_at.is_not(None), WORKED), else_=0)
        + case((ever_opportunity(), OPPORTUNITY), else_=0)
        + outcome_code() * OUTCOME_STEP
    )


def has_bit(code: pl.Expr, bit: int) -> pl.Expr:
    """Whether a packed state ``code`` has ``bit`` (a power of two) set."""
    return (code // bit) % 2 == 1


def weighed(condition: pl.Expr, weight: pl.Expr) -> pl.Expr:
    """``weight`` where ``condition`` holds, else 0: what a state row adds to a count."""
    return pl.when(condition).then(weight).otherwise(0.0)


def state_counts(weight: pl.Expr) -> dict[str, pl.Expr]:
    """The counts a row of (``state``, summed ``weight``) adds to: reached the lead stage, ever an
    opportunity, and the ``OUTCOMES``."""
    code = pl.col("state").cast(pl.Int64)
    ended = code // OUTCOME_STEP
    return {
        "reached_lead": weighed(has_bit(code, REACHED_LEAD), weight),
        "opportunity": weighed(has_bit(code, OPPORTUNITY), weight),
        "leads": weight,
        "worked": weighed(has_bit(code, WORKED), weight),
        "won": weighed(ended == OUTCOME_CODES["won"], weight),
        "lost": weighed(ended == OUTCOME_CODES["lost"], weight),
        "closed": weighed(ended.is_in([OUTCOME_CODES["won"], OUTCOME_CODES["lost"]]), weight),
        "open": weighed(ended == 0, weight),
    }


def grouped(session: Session, query: Executable, columns: list[str]) -> pl.DataFrame:
    """Run a GROUP BY and return its rows as a frame."""
    rows = session.execute(query).all()
    return pl.DataFrame(rows, schema=columns, orient="row", infer_schema_length=None)


# The bounds of the keys reports pack on SQLite (packed_keys.py); ids take theirs from their table
MONTHS = 12 * 10_000  # created_month: months since the year 0, below the year 10,000
ID_TABLES: dict[str, Any] = {
    "owner_id": Rep, "territory_id": Territory, "source_id": Source, "product_id": Product,
}  # fmt: skip
ID_HEADROOM = 1_024  # ids that a write between the bounds' query and the report's could add


def key_bounds(session: Session, keys: list[str]) -> list[Bounded]:
    """The bounds of the packable keys among ``keys`` (every raw key but the lead type); none off
    SQLite, where nothing is packed."""
    bounds: list[Bounded] = []
    if not is_sqlite(session):
        return bounds
    for key in keys:
        if key in ID_TABLES:
            largest = session.scalar(select(func.max(ID_TABLES[key].id))) or 0
            bounds.append(Bounded(key, None, 0, 2 * largest + ID_HEADROOM))
        elif key == "month":
            bounds.append(Bounded(key, None, 0, MONTHS))
        elif key == "self_sourced":
            bounds.append(Bounded(key, None, 0, 2))
    return bounds


def packed_grouping(
    session: Session, grouping: dict[str, Any], *, bounds: list[Bounded], high: tuple[str, int] | None
) -> tuple[dict[str, Any], Packing | None]:
    """The ``grouping`` (key name: SQL expression) to GROUP BY: on SQLite, the keys with
    ``bounds`` and the ``high`` key (never null, below its bound in magnitude) packed into one
    key ``packed``, as many as stay exact (``packed_keys.py``), beside the others; elsewhere
    ``grouping`` itself. ``unpacked`` takes the result apart."""
    if not is_sqlite(session):
        return grouping, None
    packing = Packing(high=(high[0], grouping[high[0]]) if high else None, high_bound=high[1] if high else 1)
    for bound in bounds:
        joined = packing.joined(replace(bound, expr=grouping[bound.name]))
        packing = joined if joined.exact else packing
    packed = {d.name for d in packing.bounded} | ({high[0]} if high else set())
    return {"packed": packing.sql(), **{k: c for k, c in grouping.items() if k not in packed}}, packing


def unpacked(frame: pl.DataFrame, packing: Packing | None) -> pl.DataFrame:
    """``frame`` grouped by a ``packed_grouping``, with its keys taken apart again."""
    if packing is None:
        return frame
    return frame.with_columns(packing.unpack("packed")).drop("packed")


def state_totals(
    session: Session,
    *,
    by: list[str],
    filters: ReportFilter,
    state: ColumnElement[Any],
    states: int,
    high: tuple[str, ColumnElement[Any], int] | None = None,
    values: dict[str, Any] | None = None,
) -> pl.DataFrame:
    """Per combination of ``by``'s raw keys (``KEYS``), each lead's ``state`` (an integer in
    ``[0, states)``) and ``high`` (a further key, never null, below its bound in magnitude): the
    summed weight ``w`` and, for each of ``values``, its weighted sum ``w_<name>`` (nulls left
    out), split credit included.

    One pass per weighting, grouped in SQL by those keys and the state (a small integer the
    caller decodes in Polars) with only these sums, over a ``coroutine``: a dozen filtered sums
    per lead were most of a report's time on SQLite. Where every lead weighs 1, the weight is
    a COUNT and the values plain sums. On SQLite the integer keys are packed into one
    (``packed_keys.py``) for its sorter."""
    values = values or {}
    frames = []
    bounds: list[Bounded] | None = None  # the same keys for every weighting: looked up once
    for weighting in weightings(session, by=by):
        q = lead_query(session, by=by, filters=filters, weighting=weighting)
        if bounds is None:
            bounds = (
                [Bounded("state", None, 0, states), *key_bounds(session, list(q.keys))]
                if is_sqlite(session)
                else []
            )
        grouping, packing = packed_grouping(
            session,
            {**q.keys, "state": state, **({high[0]: high[1]} if high else {})},
            bounds=bounds,
            high=(high[0], high[2]) if high else None,
        )
        weight = [] if weighting == "lead" else [q.weight.label("w")]
        leads = select(
            *(c.label(k) for k, c in grouping.items()), *weight, *(v.label(k) for k, v in values.items())
        )
        rows = coroutine(session, leads.select_from(q.select_from).where(*q.where))
        group = [rows.c[k] for k in grouping]
        if weighting == "lead":
            sums = [func.count(), *(func.sum(rows.c[k]) for k in values)]
        else:
            sums = [func.sum(rows.c.w), *(func.sum(rows.c.w * rows.c[k]) for k in values)]
        totals = ["w", *(f"w_{k}" for k in values)]
        frame = grouped(session, select(*group, *sums).group_by(*group), [*grouping, *totals])
        frames.append(
            unpacked(frame, packing).select(
                *(key_column(k) for k in q.keys),
                pl.col("state").cast(pl.Int64),
                *([pl.col(high[0]).cast(pl.Int64)] if high else []),
                *(pl.col(t).cast(pl.Float64).fill_null(0.0) for t in totals),
            )
        )
    return pl.concat(frames, how="vertical_relaxed")


def key_column(key: str) -> pl.Expr:
    """A raw key as grouped in SQL, in its type (``KEY_TYPES``); the month as 'YYYY-MM'."""
    if key == "month":
        return month_label(pl.col("month").cast(pl.Int64)).alias("month")
    return pl.col(key).cast(KEY_TYPES[key])


def month_label(months: pl.Expr) -> pl.Expr:
    """'YYYY-MM' of a ``created_month`` (months since the year 0)."""
    year = (months // 12).cast(pl.String).str.zfill(4)
    month = (months % 12 + 1).cast(pl.String).str.zfill(2)
    return pl.concat_str(year, pl.lit("-"), month)


def count_by(session: Session, *, by: list[str], filters: ReportFilter) -> pl.DataFrame:
    """Weighted lead outcome counts (``OUTCOMES``) for every combination of ``by`` (columns
    named as ``by``), split credit included, from the leads' states (``state_totals``)."""
    frame = state_totals(session, by=by, filters=filters, state=lead_state(), states=STATES)
    counts = state_counts(pl.col("w"))
    raw = dict.fromkeys(k for d in by for k in KEYS[d])
    frame = frame.select(*raw, *(counts[o].alias(o) for o in OUTCOMES))
    return name_dimensions(session, frame, by, list(OUTCOMES))


# rep_outcomes' state of a lead: its outcome's code (OUTCOME_CODES), whether it has a win
# probability, and its period
SCORED, PERIOD_STEP = 4, 8
RECENT, PAST = 2, 1  # periods; 0: before the past window


def period_code(recent_start: datetime, past_start: datetime) -> ColumnElement[Any]:
    """A lead's period by its creation: ``RECENT`` from ``recent_start``, ``PAST`` from
    ``past_start``, else 0."""
    return case((Lead.created_at >= recent_start, RECENT), (Lead.created_at >= past_start, PAST), else_=0)


def rep_outcomes(
    session: Session, *, filters: ReportFilter, recent_start: datetime, past_start: datetime
) -> pl.DataFrame:
    """Per credited rep, weighted: leads, won, lost; over closed leads the sum of their win
    probabilities and of p(1 - p) (what the leads promised, and its variance); the mean win
    probability of all their leads (their mix); and won and lost of leads created in [past_start,
    recent_start) and from recent_start on.

    From the leads' states (outcome, scored, period; ``state_totals``) with the weighted sums
    of the probabilities; the measures are summed from the states in Polars."""
    p = Lead.win_probability
    closed_p = case((Lead.stage.in_(("won", "lost")), p))
    state = (
        outcome_code()
        + case((p.is_not(None), SCORED), else_=0)
        + period_code(recent_start, past_start) * PERIOD_STEP
    )
    frame = state_totals(
        session,
        by=["rep"],
        filters=filters,
        state=state,
        states=PERIOD_STEP * 3,
        values={"p": p, "closed_p": closed_p, "closed_pq": closed_p * (1 - closed_p)},
    )
    code, w = pl.col("state"), pl.col("w")
    outcome, scored, period = code % SCORED, has_bit(code, SCORED), code // PERIOD_STEP
    won, lost = outcome == OUTCOME_CODES["won"], outcome == OUTCOME_CODES["lost"]

    measures = {
        "leads": w,
        "won": weighed(won, w),
        "lost": weighed(lost, w),
        "scored_closed": weighed((won | lost) & scored, w),
        "won_scored": weighed(won & scored, w),
        "expected_won": pl.col("w_closed_p"),
        "expected_variance": pl.col("w_closed_pq"),
        "mix_sum": pl.col("w_p"),
        "mix_leads": weighed(scored, w),
        "recent_won": weighed(won & (period == RECENT), w),
        "recent_lost": weighed(lost & (period == RECENT), w),
        "past_won": weighed(won & (period == PAST), w),
        "past_lost": weighed(lost & (period == PAST), w),
    }
    frame = frame.select("owner_id", *(m.alias(name) for name, m in measures.items()))
    return name_dimensions(session, frame, ["rep"], list(measures))


def days_between(session: Session, start: Any, end: Any) -> ColumnElement[Any]:
    """Whole days from ``start`` to ``end`` in this database's dialect, as ``Lead.closed_days``
    counts them: truncated on SQLite, floored on PostgreSQL."""
    if is_sqlite(session):
        return cast(func.julianday(end) - func.julianday(start), Integer)
    return func.floor(func.extract("epoch", end - start) / 86400)


CLOSING_OUTCOMES = ("won", "lost", "open")  # closing_times' outcomes, by their code in its key
CLOSING_BOUND = 2**24  # its key: three times any whole days between two dates before the year 10,000


def closing_times(session: Session, *, filters: ReportFilter, as_of: datetime) -> pl.DataFrame:
    """Leads counted by creation month, outcome (won, lost, open) and whole days from creation
    to the outcome, or to ``as_of`` for open leads (censored there). Disqualified leads are left
    out: they were never a sale that could close."""
    q = lead_query(session, by=["month"], filters=filters)
    outcome = case((Lead.stage == "won", 0), (Lead.stage == "lost", 1), else_=2)
    ended = case(
        (Lead.stage == "won", Lead.won_at),
        (Lead.stage == "lost", Lead.lost_at),
        else_=literal(as_of),
    )
    # a closed lead's days are kept as a number (closed_days); only open leads' are counted here
    days = func.coalesce(Lead.closed_days, days_between(session, Lead.created_at, literal(as_of)))
    # days and outcome as one key, one sort column fewer (0.3 s a million on SQLite)
    key = days * len(CLOSING_OUTCOMES) + outcome
    grouping, packing = packed_grouping(
        session,
        {"cohort": q.keys["month"], "key": key},
        bounds=[Bounded("cohort", None, 0, MONTHS)],
        high=("key", CLOSING_BOUND),
    )
    leads = select(*(c.label(k) for k, c in grouping.items())).select_from(q.select_from)
    rows = coroutine(
        session,
        leads.where(
            *q.where,
            Lead.created_at.is_not(None),
            Lead.created_at <= as_of,
            Lead.stage != "disqualified",
            ended.is_not(None),
        ),
    )
    group = [rows.c[k] for k in grouping]
    counted = select(*group, func.count()).group_by(*group)
    frame = unpacked(grouped(session, counted, [*grouping, "leads"]), packing)
    key_column = pl.col("key").cast(pl.Int64)
    return frame.select(
        month_label(pl.col("cohort").cast(pl.Int64)).alias("cohort"),
        (key_column % len(CLOSING_OUTCOMES))
        .replace_strict(dict(enumerate(CLOSING_OUTCOMES)), return_dtype=pl.String)
        .alias("outcome"),
        (key_column // len(CLOSING_OUTCOMES)).cast(pl.Float64).alias("days"),
        pl.col("leads").cast(pl.Float64),
    )


def ever_opportunity() -> ColumnElement[bool]:
    """A lead that is an opportunity now, was won, or was an opportunity once (lost from there,
    back in nurture): its ``was_opportunity``, which the database keeps from its stage changes."""
    return or_(Lead.stage.in_(("opportunity", "won")), Lead.was_opportunity.is_(True))


# source_outcomes' state of a lead: ever an opportunity, its outcome's code (OUTCOME_CODES) and
# its period (as rep_outcomes')
OPPORTUNITY_ONCE, SOURCE_OUTCOME_STEP = 1, 2


def source_outcomes(
    session: Session, *, filters: ReportFilter, recent_start: datetime, past_start: datetime
) -> pl.DataFrame:
    """Per source: its costs, leads, opportunities, won, lost, revenue, the months it brought
    leads in, and won and lost of leads created in the past and recent windows.

    From the leads' states (ever an opportunity, outcome, period; ``state_totals``) by source
    and month, with the revenue of the won; the measures are summed in Polars."""
    state = (
        case((ever_opportunity(), OPPORTUNITY_ONCE), else_=0)
        + outcome_code() * SOURCE_OUTCOME_STEP
        + period_code(recent_start, past_start) * PERIOD_STEP
    )
    frame = state_totals(
        session,
        by=["source", "month"],
        filters=filters,
        state=state,
        states=PERIOD_STEP * 3,
        values={"revenue": case((Lead.stage == "won", Lead.amount))},
    )
    code, w = pl.col("state"), pl.col("w")
    outcome, period = (code // SOURCE_OUTCOME_STEP) % 4, code // PERIOD_STEP
    won, lost = outcome == OUTCOME_CODES["won"], outcome == OUTCOME_CODES["lost"]
    measures = {
        "leads": w,
        "opportunities": weighed(has_bit(code, OPPORTUNITY_ONCE), w),
        "won": weighed(won, w),
        "lost": weighed(lost, w),
        "revenue": pl.col("w_revenue"),
        "recent_won": weighed(won & (period == RECENT), w),
        "recent_lost": weighed(lost & (period == RECENT), w),
        "past_won": weighed(won & (period == PAST), w),
        "past_lost": weighed(lost & (period == PAST), w),
    }
    frame = (
        frame.group_by("source_id")
        .agg(*(m.sum().alias(name) for name, m in measures.items()), pl.col("month").drop_nulls().n_unique())
        .rename({"month": "months"})
        .with_columns(pl.col("months").cast(pl.Float64))
    )
    frame = name_dimensions(session, frame, ["source"], [*measures, "months"])
    costs = pl.DataFrame(
        session.execute(select(Source.name, Source.cost_per_lead, Source.monthly_spend)).all(),
        schema={"source": pl.String, "cost_per_lead": pl.Float64, "monthly_spend": pl.Float64},
        orient="row",
    ).unique("source", keep="first")
    return frame.join(costs, on="source", how="left")


SELF_SOURCED, NEVER_TOUCHED, NOT_TIMED = -3, -1, -5  # funnel_leads' speed key when it holds no hours
# twice any whole hours between two dates before the year 10,000
SPEED_BOUND = 2**28


def funnel_leads(session: Session, *, filters: ReportFilter, assigned_before: datetime) -> pl.DataFrame:
    """The funnel's one pass over the leads: counted by source id, creation month, channel
    (``self_sourced``), whether the lead is timed for speed to lead (``timed``: assigned before
    ``assigned_before``, not self-sourced) and, if so, whole hours from assignment to first touch
    (null: never touched); with how many of them reached the lead stage (assigned or moved on)
    and were ever opportunities, and every outcome count of conversion (``OUTCOMES``), so that
    the overview page sums conversion by month from the same pass.

    One GROUP BY rather than one per figure: on SQLite each sorts every lead (0.5-1 s a million).
    It groups by the keys and each lead's state (what it reached, worked or not, its outcome) as
    one small integer, and only counts; the figures are summed from the states in Polars."""
    hours = Lead.touch_seconds // 3600  # integer division: whole hours, truncated toward zero
    # The channel, timed and hours as one key, two sort columns fewer (0.3 s each a million on
    # SQLite): -3 when self-sourced; when timed, twice the hours if touched, -1 if never; -5 when
    # distributed but not timed (odd numbers, so no hours).
    speed = case(
        (Lead.self_sourced.is_(True), SELF_SOURCED),
        (Lead.assigned_at < assigned_before, func.coalesce(hours * 2, NEVER_TOUCHED)),
        else_=NOT_TIMED,
    )
    frame = state_totals(
        session,
        by=["source", "month"],
        filters=filters,
        state=lead_state(),
        states=STATES,
        high=("speed", speed, SPEED_BOUND),
    )
    measures = state_counts(pl.col("w"))
    key = pl.col("speed").cast(pl.Int64)
    return (
        frame.with_columns(key)
        .group_by("source_id", "month", "speed")
        .agg(measure.sum().alias(name) for name, measure in measures.items())
        .select(
            "source_id",
            "month",
            (key == SELF_SOURCED).alias("self_sourced"),
            (~key.is_in([SELF_SOURCED, NOT_TIMED])).alias("timed"),
            pl.when(key % 2 == 0).then(key // 2).cast(pl.Float64).alias("hours"),
            *measures,
        )
    )


def won_activities(session: Session, *, filters: ReportFilter) -> tuple[float, float]:
    """Activities, and calls among them, logged on won leads."""
    won_leads = select(Lead.id).where(*lead_conditions(session, filters), Lead.stage == "won")
    activities, calls = session.execute(
        select(func.count(), count_where(Activity.kind == "call")).where(
            Activity.lead_id.in_(won_leads.scalar_subquery())
        )
    ).one()
    return float(activities or 0), float(calls or 0)


# channel_leads' state of a lead: given to a direct rep (owned, not self-sourced), worked, won
DIRECT, DIRECT_WORKED, DIRECT_WON = 1, 2, 4


def channel_leads(session: Session, *, filters: ReportFilter) -> pl.DataFrame:
    """Leads counted by source id and creation month, with how many of them went to a direct
    rep (owned, not self-sourced) and how many of those were worked and won, and what those
    earned: what the partner report costs leads by and compares partners with."""
    direct = and_(Lead.owner_id.is_not(None), Lead.self_sourced.is_(False))
    won = and_(direct, Lead.stage == "won")
    state = (
        case((direct, DIRECT), else_=0)
        + case((and_(direct, Lead.first_touch_at.is_not(None)), DIRECT_WORKED), else_=0)
        + case((won, DIRECT_WON), else_=0)
    )
    frame = state_totals(
        session,
        by=["source", "month"],
        filters=filters,
        state=state,
        states=2 * DIRECT_WON,
        values={"revenue": case((won, Lead.amount))},
    )
    code, w = pl.col("state"), pl.col("w")
    return frame.group_by("source_id", "month").agg(
        w.sum().alias("leads"),
        weighed(has_bit(code, DIRECT), w).sum().alias("direct"),
        weighed(has_bit(code, DIRECT_WORKED), w).sum().alias("direct_worked"),
        weighed(has_bit(code, DIRECT_WON), w).sum().alias("direct_won"),
        pl.col("w_revenue").sum().alias("direct_revenue"),
    )


def capacity_use(session: Session, *, filters: ReportFilter) -> pl.DataFrame:
    """Per rep: leads issued to them (owner assignments) per month of the period, and capacity.

    Without filters beyond dates the period is when leads were issued: whole days are read
    from each rep's load per day (``rep_load``, a row per rep and day), other periods from the
    assignments' (role, at, rep) index."""
    only_dates = not (filters.team or filters.territory or filters.source or filters.lead_type)
    whole_days = all(
        d is None or d == datetime.combine(d.date(), time()) for d in (filters.since, filters.until)
    )
    query: Any
    if only_dates and whole_days:
        day_month = month_of(session, RepLoad.day)
        query = select(RepLoad.rep_id, day_month.label("month"), func.sum(RepLoad.issued))
        if filters.since:
            query = query.where(RepLoad.day >= filters.since.date())
        if filters.until:
            query = query.where(RepLoad.day < filters.until.date())
        query = query.group_by(RepLoad.rep_id, day_month)
    else:
        month = month_of(session, Assignment.at)
        query = select(Assignment.rep_id, month.label("month"), func.count()).where(
            Assignment.role == "owner"
        )
        if only_dates:
            if filters.since:
                query = query.where(Assignment.at >= filters.since)
            if filters.until:
                query = query.where(Assignment.at < filters.until)
        else:
            query = query.join(Lead, Lead.id == Assignment.lead_id).where(*lead_conditions(session, filters))
        query = query.group_by(Assignment.rep_id, month)
    issued = grouped(session, query, ["rep_id", "month", "leads"])
    reps = pl.DataFrame(
        session.execute(select(Rep.id, Rep.name, Rep.capacity)).all(),
        schema={"rep_id": pl.Int64, "rep": pl.String, "capacity": pl.Float64},
        orient="row",
    )
    return (
        issued.with_columns(pl.col("rep_id").cast(pl.Int64), pl.col("leads").cast(pl.Float64))
        .join(reps, on="rep_id")
        .select("rep", "capacity", "month", "leads")
    )
