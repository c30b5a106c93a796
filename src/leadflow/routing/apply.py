"""Writing a plan: assignments with their reasons, owners, first stage, the queue, and the
policies' state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from leadflow.db import bulk_update, bulk_upsert, driver_rows, is_sqlite
from leadflow.ledger.write import insert_assignments, insert_stage_changes
from leadflow.models import (
    QueuedLead,
    RoutingRun,
    RoutingState,
    utcnow,
)
from leadflow.routing.plan import RoutePlan


def apply_plan(session: Session, *, plan: RoutePlan, by: str, now: datetime | None = None) -> None:
    """Write a plan: assignments with their reasons, owners, first stage, queue and policy state."""
    now = now or utcnow()
    at = pl.lit(now, dtype=pl.Datetime("us")).alias("at")
    # in lead order: the leads' rows and index entries are then written in one pass, not one per group
    assigned = plan.table.filter(pl.col("rep_id").is_not_null()).sort("lead_id")
    if not assigned.is_empty():
        # what a group's leads share is written once, with the run; each assignment keeps its own
        groups = assigned["group"].unique(maintain_order=True).to_list()
        run = RoutingRun(at=now, by=by, context={g: plan.shared[g] for g in groups})
        session.add(run)
        session.flush()
        owners = assigned.select(
            "lead_id",
            "rep_id",
            at,
            "policy",
            "reason",
            "inputs",
            pl.lit(run.id).alias("run_id"),
            (1.0 - pl.col("credit_share").fill_null(0.0)).alias("credit_share"),
            pl.lit("owner").alias("role"),
            pl.lit(by).alias("by"),
        )
        credits = assigned.filter(pl.col("credit_rep_id").is_not_null()).select(
            "lead_id",
            pl.col("credit_rep_id").alias("rep_id"),
            at,
            pl.lit("split credit").alias("policy"),
            pl.format(
                "company headquarters in another territory: {}% of the credit",
                (pl.col("credit_share") * 100).round(0).cast(pl.Int64),
            ).alias("reason"),
            pl.struct(pl.col("rep_external_id").alias("owner")).struct.json_encode().alias("inputs"),
            pl.lit(run.id).alias("run_id"),
            "credit_share",
            pl.lit("credit").alias("role"),
            pl.lit(by).alias("by"),
        )
        rows = pl.concat([owners, credits])
        insert_assignments(session, rows=rows)
        moved = assigned.filter(pl.col("from_stage") == "inquiry").select(
            "lead_id",
            pl.col("from_stage"),
            pl.lit("lead").alias("to_stage"),
            at,
            pl.lit(by).alias("by"),
            pl.lit("routed").alias("reason"),
        )
        insert_stage_changes(session, rows=moved)
        waited = assigned.filter(pl.col("queued").is_not_null())["lead_id"].to_list()
        for start in range(0, len(waited), 5000):
            session.execute(delete(QueuedLead).where(QueuedLead.lead_id.in_(waited[start : start + 5000])))
        # an inquiry becomes a lead when it has an owner; a qualified lead or opportunity stays as it is
        stage = pl.when(pl.col("from_stage") == "inquiry").then(pl.lit("lead")).otherwise("from_stage")
        owned = assigned.select("rep_id", at.alias("assigned_at"), stage.alias("stage"), "lead_id")
        bulk_update(session, "leads", ["owner_id", "assigned_at", "stage"], driver_rows(session, owned))
    queued = plan.table.filter(pl.col("queue").is_not_null())
    if not queued.is_empty():
        fresh = queued.filter(pl.col("queued").is_null()).select(
            "lead_id", pl.col("queue").alias("kind"), "reason", at.alias("since"), pl.lit(1).alias("attempts")
        )
        # On PostgreSQL a lead read as not queued may have been queued by a worker that committed
        # after this read began: the lead's row was free to lock, but the queue row that worker
        # wrote is not in this read's snapshot. Then it counts as one more attempt.
        table = QueuedLead.__tablename__
        again_by_now = {
            "kind": "excluded.kind",
            "reason": "excluded.reason",
            "attempts": f"{table}.attempts + 1",
        }
        bulk_upsert(
            session, table, fresh.columns, driver_rows(session, fresh), key=["lead_id"], updates=again_by_now
        )
        again = queued.filter(pl.col("queued").is_not_null()).select(
            pl.col("queue").alias("kind"), "reason", pl.col("queued_attempts") + 1, "lead_id"
        )
        bulk_update(
            session, QueuedLead.__tablename__, ["kind", "reason", "attempts"], driver_rows(session, again),
            key="lead_id",
        )  # fmt: skip
    changed = plan.changed_state()
    if changed:
        # an upsert: workers routing to different reps do not wait for each other, and may both
        # be the first to save a key (the estimates)
        insert = sqlite_insert if is_sqlite(session) else postgresql_insert
        statement = insert(RoutingState).values(
            [{"key": key, "state": value, "updated_at": now} for key, value in changed.items()]
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[RoutingState.key],
                set_={"state": statement.excluded.state, "updated_at": statement.excluded.updated_at},
            )
        )


def load_state(session: Session) -> dict[str, dict[str, Any]]:
    """The policies' saved state (round-robin pointers, weighted values) by key."""
    rows = session.execute(select(RoutingState.key, RoutingState.state)).all()
    return {key: dict(state) for key, state in rows}
