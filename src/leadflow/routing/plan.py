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

# A plan's rows by column: as lists (a capture's few leads, where building a frame would cost more
# than planning them) or as a frame (a batch's many, kept vectorised).
PlanRowsByColumn = dict[str, list[Any]] | pl.DataFrame


@dataclass
class RoutePlan:
    """The decisions of one routing run (a row per lead), the inputs each group of leads
    shares (its team, policy, eligible and excluded reps, seed), and the policy state to keep.

    The rows are kept as they were built, lists or a frame; :meth:`column` reads one as a list
    either way, and :attr:`table` is the frame, built from the lists on first use (a capture
    never asks for it)."""

    rows: PlanRowsByColumn = field(default_factory=lambda: EMPTY)
    # by group: stored once per run (RoutingRun.context), not with each assignment
    shared: dict[str, dict[str, Any]] = field(default_factory=dict)
    state: dict[str, dict[str, Any]] = field(default_factory=dict)
    loaded: dict[str, dict[str, Any]] = field(default_factory=dict)  # the state as read

    @property
    def table(self) -> pl.DataFrame:
        """The plan's rows as a frame (PLAN_SCHEMA)."""
        if not isinstance(self.rows, pl.DataFrame):
            self.rows = pl.DataFrame(self.rows, schema=PLAN_SCHEMA)
        return self.rows

    @property
    def height(self) -> int:
        """How many leads the plan decides."""
        rows = self.rows
        return rows.height if isinstance(rows, pl.DataFrame) else len(rows["lead_id"])

    def column(self, name: str) -> list[Any]:
        """One column of the plan's rows as a list, in the plan's order."""
        rows = self.rows
        return rows.get_column(name).to_list() if isinstance(rows, pl.DataFrame) else rows[name]

    def lead_reasons(self, cause: str) -> None:
        """Lead each reason with ``cause`` (why these leads are routed again)."""
        if isinstance(self.rows, pl.DataFrame):
            self.rows = self.rows.with_columns((pl.lit(f"{cause}; ") + pl.col("reason")).alias("reason"))
        else:
            self.rows = {**self.rows, "reason": [f"{cause}; {reason}" for reason in self.rows["reason"]]}

    @property
    def decisions(self) -> list[Decision]:
        """Each decision as an object with all its inputs (for a handful of leads)."""
        columns = {name: self.column(name) for name in PLAN_SCHEMA}
        rows = (dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True))
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
            for row in rows
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
        if isinstance(self.rows, pl.DataFrame):
            column = pl.col("queue")
            return self.rows.filter(column.is_null() if queue is None else column == queue).height
        return self.rows["queue"].count(queue)
