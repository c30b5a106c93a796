"""The one bulk writer of leads, assignments and stage changes.

Every path that writes these in bulk (an import, routing, the demo) goes through here, so that
what must accompany each write is never forgotten: a lead's report numbers and whether it was an
opportunity, supplied with the row so that the database's trigger (which checks them) writes no
lead twice; and each owner assignment counted into its rep's load per day, which is what capacity
reads. Writes are ``executemany`` over plain tuples; the caller owns the transaction.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from leadflow.db import bulk_increment, bulk_insert, driver_rows, driver_value
from leadflow.ledger.numbers import NUMBERS, number_columns


def insert_leads(
    session: Session, *, rows: pl.DataFrame, columns: list[str], was_opportunity: pl.Series
) -> None:
    """Insert new leads: ``columns`` of ``rows`` (those it has), with their report numbers and
    ``was_opportunity`` (whether a stage change written with them reaches the opportunity stage)."""
    held = set(rows.columns)
    given = [c for c in dict.fromkeys(columns) if c in held and c not in NUMBERS]
    # the given columns taken as they are (a select would plan an expression for each)
    rows = rows[given].hstack([*number_columns(rows), was_opportunity.alias("was_opportunity")])
    bulk_insert(session, "leads", rows.columns, driver_rows(session, rows))


def insert_assignments(session: Session, *, rows: pl.DataFrame) -> None:
    """Insert assignments (lead_id, rep_id, at, policy, reason, ...; ``role`` defaults to owner)
    and count the owners' into their reps' load per day."""
    if rows.is_empty():
        return
    bulk_insert(session, "assignments", rows.columns, driver_rows(session, rows))
    owners = rows.filter(pl.col("role") == "owner") if "role" in rows.columns else rows
    record_issued(session, issued=owners.select("rep_id", "at"))


def insert_assignments_at(
    session: Session, *, at: datetime, columns: list[str], rows: list[tuple[Any, ...]], owners: list[int]
) -> None:
    """Insert assignments all made at one moment ``at`` (a routing run), given as driver rows of
    ``columns``, and count ``owners`` (the rep of each owner assignment) into that day's load."""
    if not rows:
        return
    bulk_insert(session, "assignments", columns, rows)
    day = driver_value(session, at.date())
    _add_to_load(session, [(rep, day, n) for rep, n in sorted(Counter(owners).items())])


def insert_stage_changes(session: Session, *, rows: pl.DataFrame) -> None:
    """Insert stage changes (lead_id, from_stage, to_stage, at, by[, reason])."""
    if rows.is_empty():
        return
    insert_stage_change_rows(session, columns=rows.columns, rows=driver_rows(session, rows))


def insert_stage_change_rows(session: Session, *, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """Insert stage changes given as driver rows of ``columns``."""
    bulk_insert(session, "stage_changes", columns, rows)


def record_issued(session: Session, *, issued: pl.DataFrame) -> None:
    """Count owner assignments (``rep_id``, ``at``) into each rep's load per day: every writer of
    assignments calls this in the same transaction, so capacity never has to count them again."""
    issued = issued.filter(pl.col("rep_id").is_not_null())
    if issued.is_empty():
        return
    per_day = (
        issued.group_by(pl.col("rep_id").cast(pl.Int64), pl.col("at").cast(pl.Date).alias("day"))
        .agg(pl.len().cast(pl.Int64).alias("issued"))
        .sort("rep_id", "day")
    )
    _add_to_load(session, driver_rows(session, per_day))


def _add_to_load(session: Session, per_day: list[tuple[Any, ...]]) -> None:
    """Add (rep id, day, leads issued) rows, in the driver's form, to each rep's load that day."""
    bulk_increment(session, "rep_load", ["rep_id", "day"], "issued", per_day)
