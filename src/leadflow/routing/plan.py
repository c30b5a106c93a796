"""The plan of one routing run: a row per lead (who, or which queue, and why), the inputs its
groups share, and the policy state it changes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import polars as pl


@dataclass
class Decision:
    """Who gets one lead (None: queued) and why, with the inputs the choice used."""

    lead_id: int
    lead_external_id: str | None
    rep_id: int | None
    rep_external_id: str | None
    policy: str
    reason: str
    win_probability: float | None
    inputs: dict[str, Any]
    queue: str | None = None  # "reserve" or "unassigned" when nobody got the lead
    credit: tuple[int, str, float] | None = None  # split credit: (rep id, external id, share)


# One row per lead of a plan. Built column-wise: a batch decides a million leads at once.
PLAN_SCHEMA: dict[str, pl.DataType] = {
    "lead_id": pl.Int64(),
    "lead_external_id": pl.String(),
    "rep_id": pl.Int64(),  # null: queued
    "rep_external_id": pl.String(),
    "policy": pl.String(),
    "reason": pl.String(),
    "win_probability": pl.Float64(),
    "queue": pl.String(),  # "reserve" or "unassigned" when nobody got the lead
    "group": pl.String(),  # the territory or fallback team whose reps were considered
    "inputs": pl.String(),  # JSON: what the choice of this lead used beyond its group's inputs
    "from_stage": pl.String(),  # the lead's stage before routing
    "queued": pl.String(),  # the queue the lead was waiting in, if any
    "queued_attempts": pl.Int64(),
    "credit_rep_id": pl.Int64(),  # split credit: the headquarters' rep, external id and share
    "credit_rep_external_id": pl.String(),
    "credit_share": pl.Float64(),
}

# A plan's table before any decision (frames are never changed in place: one serves every plan).
EMPTY = pl.DataFrame(schema=PLAN_SCHEMA)


@dataclass
class RoutePlan:
    """The decisions of one routing run (a row per lead), the inputs each group of leads
    shares (its team, policy, eligible and excluded reps, seed), and the policy state to keep."""

    table: pl.DataFrame = field(default_factory=lambda: EMPTY)
    # by group: stored once per run (RoutingRun.context), not with each assignment
    shared: dict[str, dict[str, Any]] = field(default_factory=dict)
    state: dict[str, dict[str, Any]] = field(default_factory=dict)
    loaded: dict[str, dict[str, Any]] = field(default_factory=dict)  # the state as read

    @property
    def decisions(self) -> list[Decision]:
        """Each decision as an object with all its inputs (for a handful of leads)."""
        return [
            Decision(
                lead_id=row["lead_id"],
                lead_external_id=row["lead_external_id"],
                rep_id=row["rep_id"],
                rep_external_id=row["rep_external_id"],
                policy=row["policy"],
                reason=row["reason"],
                win_probability=row["win_probability"],
                inputs={**self.shared.get(row["group"], {}), **json.loads(row["inputs"])},
                queue=row["queue"],
                credit=(row["credit_rep_id"], row["credit_rep_external_id"], row["credit_share"])
                if row["credit_rep_id"] is not None
                else None,
            )
            for row in self.table.iter_rows(named=True)
        ]

    def changed_state(self) -> dict[str, dict[str, Any]]:
        """The keys this run set: only those are written, so that workers routing to other reps
        at the same time never overwrite each other's pointers with what they read. A run
        replaces a key's value and never changes one in place, so a value that is not the very
        object read was set by this run (and copying the state to compare would cost more than
        routing one lead)."""
        return {k: v for k, v in self.state.items() if self.loaded.get(k) is not v}

    def count(self, queue: str | None) -> int:
        """How many leads were assigned (None), reserved or left unassigned."""
        column = pl.col("queue")
        return self.table.filter(column.is_null() if queue is None else column == queue).height
