"""Counting passes over a lead's state: each lead's outcome and milestones as one small integer,
grouped with the report's keys (packed into one integer on SQLite), summed by weighting, and
unpacked in Polars."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable, Select, Subquery
from sqlalchemy.sql.elements import ColumnElement

from leadflow.analytics.query.filters import (
    DIMENSION_COLUMNS,
    ReportFilter,
    key_column,
    lead_query,
    name_dimensions,
    weightings,
)
from leadflow.analytics.query.packed_keys import Bounded, Packing
from leadflow.db import is_sqlite
from leadflow.models import (
    Lead,
    Product,
    Rep,
    Source,
    Territory,
)


def coroutine(session: Session, query: Select[Any]) -> Subquery:
    """``query`` as a subquery for an outer GROUP BY to count or sum.

    On SQLite with a LIMIT, which keeps it from being merged into the GROUP BY (SQLite never
    flattens a subquery with one into an aggregate): it runs as a co-routine that hands each
    row's few small values to the sorter once. Grouping such rows by a packed state and summing
    little is much cheaper than one flat GROUP BY with a dozen filtered sums (figures in
    docs/performance-log.md)."""
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
    """Per combination of ``by``'s raw keys (``DIMENSION_COLUMNS``), each lead's ``state`` (an integer in
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


def count_by(session: Session, *, by: list[str], filters: ReportFilter) -> pl.DataFrame:
    """Weighted lead outcome counts (``OUTCOMES``) for every combination of ``by`` (columns
    named as ``by``), split credit included, from the leads' states (``state_totals``)."""
    frame = state_totals(session, by=by, filters=filters, state=lead_state(), states=STATES)
    counts = state_counts(pl.col("w"))
    raw = dict.fromkeys(k for d in by for k in DIMENSION_COLUMNS[d])
    frame = frame.select(*raw, *(counts[o].alias(o) for o in OUTCOMES))
    return whole_counts(name_dimensions(session, frame, by, list(OUTCOMES)), OUTCOMES)


def whole_counts(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """Counts as integers (343, not 343.0) where they are whole: weighted by split credit a
    count can be fractional, and then it stays a float."""
    whole = []
    for name in columns:
        if name in frame.columns and frame[name].dtype.is_float():
            values = frame[name].drop_nulls()
            if (values == values.round(0)).all():
                whole.append(name)
    return frame.with_columns(pl.col(whole).round(0).cast(pl.Int64)) if whole else frame


# rep_outcomes' state of a lead: its outcome's code (OUTCOME_CODES), whether it has a win
# probability, and its period
SCORED, PERIOD_STEP = 4, 8

RECENT, PAST = 2, 1  # periods; 0: before the past window


def period_code(recent_start: datetime, past_start: datetime) -> ColumnElement[Any]:
    """A lead's period by its creation: ``RECENT`` from ``recent_start``, ``PAST`` from
    ``past_start``, else 0."""
    return case((Lead.created_at >= recent_start, RECENT), (Lead.created_at >= past_start, PAST), else_=0)


def ever_opportunity() -> ColumnElement[bool]:
    """A lead that is an opportunity now, was won, or was an opportunity once (lost from there,
    back in nurture): its ``was_opportunity``, which the database keeps from its stage changes."""
    return or_(Lead.stage.in_(("opportunity", "won")), Lead.was_opportunity.is_(True))
