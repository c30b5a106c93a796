"""The queue of leads to route (taken with FOR UPDATE SKIP LOCKED on PostgreSQL) and what
routing could not place: the reserve (reps at capacity) and the unassigned, with why."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import polars as pl
from sqlalchemy import Select, Text, bindparam, case, cast, exists, literal, select
from sqlalchemy.orm import Session

from leadflow.db import in_values, is_sqlite, read_frame
from leadflow.models import (
    Assignment,
    Company,
    Lead,
    QueuedLead,
    Territory,
)
from leadflow.settings import OPEN_STAGES


def take_queue(
    session: Session,
    lead_ids: list[int] | None,
    limit: int | None,
    *,
    stages: Sequence[str],
    order: str = "best_first",
    lock: bool = True,
) -> pl.DataFrame:
    """The unowned leads of the routable ``stages`` (or those of ``lead_ids``): the reserve first,
    then the best (``order="best_first"``: win probability, else fit score) or the oldest. With
    ``lock`` (routing), rows another worker holds are skipped on PostgreSQL; a preview reads all.

    A whole queue comes unordered and Polars orders it (SQLite sorted a million wide rows in 8 s,
    12 s with a bulk write's page cache; Polars sorts their keys in a fraction of that). The
    database orders the few leads of a capture, and a limited run on PostgreSQL, which must
    lock only the leads it takes."""
    locking = lock and not is_sqlite(session)
    in_database = lead_ids is not None or (bool(limit) and locking)
    limited = bool(limit) and in_database
    query = _queue_query(
        tuple(stages), order, by_id=lead_ids is not None, ordered=in_database, limited=limited, lock=locking
    )
    parameters: dict[str, Any] = {"limit": limit} if limited else {}
    if lead_ids is not None:
        parameters["lead_ids"] = lead_ids
    frame = read_frame(session, query, parameters)
    if not in_database:
        keys = _order_keys(order)
        frame = frame.sort([key for key, _ in keys], descending=[d for _, d in keys], nulls_last=True)
        if limit:
            frame = frame.head(limit)
        frame = frame.drop(SORT_ONLY)
    return frame


# Read only to order the queue.
SORT_ONLY = ["fit_score", "created_at"]


def _order_keys(order: str) -> list[tuple[pl.Expr, bool]]:
    """The queue's order as frame keys (key, descending), the same as :func:`_queue_query`'s;
    each key's nulls last (an undated lead after the dated ones), on either database."""
    best = [(pl.col("win_probability"), True), (pl.col("fit_score"), True)] if order == "best_first" else []
    reserve_first = (pl.col("queued") != "reserve").fill_null(True)
    return [(reserve_first, False), *best, (pl.col("created_at"), False), (pl.col("id"), False)]


@lru_cache(maxsize=32)
def _queue_query(
    stages: tuple[str, ...], order: str, *, by_id: bool, ordered: bool, limited: bool, lock: bool
) -> Select[*tuple[Any, ...]]:
    """The queue's select, built once per shape (a capture routes a few leads many times a
    second; building the statement cost as much as running it). ``ordered``: sorted in the
    database, and ``limited``: cut there too."""
    reserve_first = case((QueuedLead.kind == "reserve", 0), else_=1)
    best = (
        [Lead.win_probability.desc().nulls_last(), Lead.fit_score.desc().nulls_last()]
        if order == "best_first"
        else []
    )
    query = (
        select(
            Lead.id,
            Lead.external_id,
            Lead.country,
            Lead.region,
            Lead.industry,
            Lead.company,
            Lead.company_size,
            cast(Lead.extra, Text).label("extra"),
            Lead.win_probability,
            Territory.name.label("lead_territory"),
            Lead.stage,
            Company.country.label("hq_country"),
            Lead.lead_type,
            cast(Lead.source_id, Text).label("source"),
            cast(Lead.product_id, Text).label("product"),
            QueuedLead.kind.label("queued"),
            QueuedLead.attempts.label("queued_attempts"),
            *([] if ordered else [Lead.fit_score, Lead.created_at]),  # SORT_ONLY
        )
        .outerjoin(Territory, Lead.territory_id == Territory.id)
        .outerjoin(Company, Lead.company_id == Company.id)
        .outerjoin(QueuedLead, QueuedLead.lead_id == Lead.id)
        .where(
            Lead.owner_id.is_(None),
            # one bound value a stage, not an expanding list: the statement is built for these
            # stages, and an expanding list is rendered again on every execution
            Lead.stage.in_([literal(stage) for stage in stages]),
            Lead.self_sourced.is_(False),
            ~exists().where(  # issued to a partner: not the reps' to work
                Assignment.lead_id == Lead.id,
                Assignment.partner_id.is_not(None),
                Assignment.ended_at.is_(None),
            ),
        )
    )
    if by_id:
        query = query.where(in_values(Lead.id, "lead_ids"))
    if ordered:
        query = query.order_by(reserve_first, *best, Lead.created_at.asc().nulls_last(), Lead.id)
    if limited:
        query = query.limit(bindparam("limit"))
    if lock:
        query = query.with_for_update(skip_locked=True, of=Lead)
    return query


def routing_queue(session: Session, *, routable_stages: Sequence[str] | None = None) -> pl.DataFrame:
    """The reserve and the unassigned leads with their reasons, oldest first; with
    ``routable_stages``, also the unowned open leads of other stages, which routing leaves alone."""
    rows = session.execute(
        select(
            Lead.id,
            Lead.external_id,
            QueuedLead.kind,
            QueuedLead.reason,
            QueuedLead.since,
            QueuedLead.attempts,
        )
        .join(Lead, Lead.id == QueuedLead.lead_id)
        .where(Lead.owner_id.is_(None))
        .order_by(QueuedLead.kind, QueuedLead.since, Lead.id)
    ).all()
    schema: dict[str, pl.DataType] = {
        "id": pl.Int64(),
        "external_id": pl.String(),
        "queue": pl.String(),
        "reason": pl.String(),
        "since": pl.Datetime("us"),
        "attempts": pl.Int64(),
    }
    frame = pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")
    if routable_stages is None:
        return frame
    skipped = [s for s in OPEN_STAGES if s not in routable_stages]
    left = session.execute(
        select(Lead.id, Lead.external_id, Lead.stage, Lead.created_at)
        .where(Lead.owner_id.is_(None), Lead.stage.in_(skipped), Lead.self_sourced.is_(False))
        .where(~exists().where(QueuedLead.lead_id == Lead.id))
        .order_by(Lead.created_at, Lead.id)
    ).all()
    if not left:
        return frame
    others = pl.DataFrame(
        {
            "id": [r.id for r in left],
            "external_id": [r.external_id for r in left],
            "queue": ["not routed"] * len(left),
            "reason": [
                f"stage {r.stage} is not routed (routing.routable_stages: {', '.join(routable_stages)})"
                for r in left
            ],
            "since": [r.created_at for r in left],
            "attempts": [0] * len(left),
        },
        schema=frame.schema,
    )
    return pl.concat([frame, others])
