"""What a rep should work next: first touches by their deadline, then follow-ups that are due,
then the open leads most likely to close, then nurture waiting for its date; first touches
missed by more than BACKLOG_AFTER come last, as a backlog for the manager to clear or pass on
(the SLA page and sweep), not at the top of the rep's day."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
from sqlalchemy.orm import Session

from leadflow.models import CLOSED_STAGES, utcnow
from leadflow.pipeline.queries import LeadFilter, list_leads
from leadflow.routing.sla import untouched_leads
from leadflow.settings import Settings

WHY = {0: "first touch due", 1: "follow-up due", 2: "open", 3: "nurture", 4: "backlog"}
BACKLOG_AFTER = timedelta(days=3)


def work_next(
    session: Session,
    *,
    settings: Settings,
    rep_id: int,
    now: datetime | None = None,
    limit: int | None = None,
) -> pl.DataFrame:
    """The rep's open leads in the order to work them, with ``next`` (why it is there) and
    ``due_at`` (the first-touch deadline or the follow-up date)."""
    now = now or utcnow()
    leads = list_leads(session, filters=LeadFilter(owner_id=rep_id)).filter(
        ~pl.col("stage").is_in(CLOSED_STAGES)
    )
    deadlines = pl.DataFrame(
        [(u.lead_id, u.deadline) for u in untouched_leads(session, settings=settings, owner_in=(rep_id,))],
        schema={"id": pl.Int64, "deadline": pl.Datetime("us")},
        orient="row",
    )
    follow_up = pl.col("follow_up_at").cast(pl.Datetime("us"))
    ranked = (
        leads.join(deadlines, on="id", how="left")
        .with_columns(
            pl.when(pl.col("deadline") < now - BACKLOG_AFTER)
            .then(4)
            .when(pl.col("deadline").is_not_null())
            .then(0)
            .when(follow_up.is_not_null() & (follow_up <= now))
            .then(1)
            .when(pl.col("stage") != "nurture")
            .then(2)
            .otherwise(3)
            .alias("rank")
        )
        .with_columns(
            pl.when(pl.col("rank").is_in([0, 4]))
            .then(pl.col("deadline"))
            .otherwise(follow_up)
            .alias("due_at"),
            pl.col("rank").replace_strict(WHY, return_dtype=pl.String).alias("next"),
        )
        .sort(
            ["rank", "due_at", "grade", "win_probability"],
            descending=[False, False, False, True],
            nulls_last=True,
        )
    )
    ranked = ranked.drop("deadline")
    return ranked if limit is None else ranked.head(limit)
