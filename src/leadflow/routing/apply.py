"""Writing a plan: assignments with their reasons, owners, first stage, the queue, and the
policies' state."""

from __future__ import annotations

import json
from datetime import datetime
from itertools import repeat
from typing import Any

import polars as pl
from sqlalchemy import Text, cast, delete, select
from sqlalchemy.orm import Session

from leadflow.db import bulk_update, bulk_upsert, driver_value, insert_one, read_rows
from leadflow.ledger.write import insert_assignments_at, insert_stage_change_rows
from leadflow.models import (
    QueuedLead,
    RoutingRun,
    RoutingState,
    utcnow,
)
from leadflow.routing.decisions import LIST_GATHER_MAX, take_rows
from leadflow.routing.plan import RoutePlan


def apply_plan(session: Session, *, plan: RoutePlan, by: str, now: datetime | None = None) -> None:
    """Write a plan: assignments with their reasons, owners, first stage, queue and policy state.

    The plan's columns are taken once as lists and the rows built from them, so writing the plan
    of one captured lead costs a few statements, and a million leads stay one executemany each."""
    now = now or utcnow()
    at = driver_value(session, now)
    reps = plan.column("rep_id")
    if any(rep_id is not None for rep_id in reps):
        # in lead order: the leads' rows and index entries are then written in one pass, not one per group
        leads = plan.column("lead_id")
        given = sorted((row for row, rep_id in enumerate(reps) if rep_id is not None), key=leads.__getitem__)
        assigned = _Rows(plan, given)
        lead, rep, stage, queued = (assigned[c] for c in ("lead_id", "rep_id", "from_stage", "queued"))
        # what a group's leads share is written once, with the run; each assignment keeps its own
        groups = dict.fromkeys(assigned["group"])
        context = json.dumps({g: plan.shared[g] for g in groups})
        run = insert_one(session, RoutingRun.__tablename__, ["at", "by", "context"], (at, by, context))
        shares = assigned["credit_share"]
        owners = list(
            zip(
                lead,
                rep,
                repeat(at),
                assigned["policy"],
                assigned["reason"],
                assigned["inputs"],
                repeat(run),
                [1.0 - (share or 0.0) for share in shares],
                repeat("owner"),
                repeat(by),
                strict=False,  # the repeats are endless
            )
        )
        credited = assigned["credit_rep_id"]
        credits = [
            (
                lead_id,
                credit_rep,
                at,
                "split credit",
                f"company headquarters in another territory: {int(share * 100 + 0.5)}% of the credit",
                json.dumps({"owner": owner}, separators=(",", ":")),
                run,
                share,
                "credit",
                by,
            )
            for lead_id, credit_rep, share, owner in zip(
                lead, credited, shares, assigned["rep_external_id"], strict=True
            )
            if credit_rep is not None
        ]
        columns = [
            "lead_id",
            "rep_id",
            "at",
            "policy",
            "reason",
            "inputs",
            "run_id",
            "credit_share",
            "role",
            "by",
        ]
        insert_assignments_at(session, at=now, columns=columns, rows=owners + credits, owners=rep)
        # an inquiry becomes a lead when it has an owner; a qualified lead or opportunity stays as it is
        moved = [
            (lead_id, "inquiry", "lead", at, by, "routed")
            for lead_id, s in zip(lead, stage, strict=True)
            if s == "inquiry"
        ]
        insert_stage_change_rows(
            session, columns=["lead_id", "from_stage", "to_stage", "at", "by", "reason"], rows=moved
        )
        waited = [lead_id for lead_id, q in zip(lead, queued, strict=True) if q is not None]
        for start in range(0, len(waited), 5000):
            session.execute(delete(QueuedLead).where(QueuedLead.lead_id.in_(waited[start : start + 5000])))
        owned = [
            (rep_id, at, "lead" if s == "inquiry" else s, lead_id)
            for rep_id, s, lead_id in zip(rep, stage, lead, strict=True)
        ]
        bulk_update(session, "leads", ["owner_id", "assigned_at", "stage"], owned)
    queues = plan.column("queue")
    if any(q is not None for q in queues):
        waiting = _Rows(plan, [row for row, q in enumerate(queues) if q is not None])
        lead, kind, reason, queued, attempts = (
            waiting[c] for c in ("lead_id", "queue", "reason", "queued", "queued_attempts")
        )
        fresh = [
            (lead_id, k, why, at, 1)
            for lead_id, k, why, q in zip(lead, kind, reason, queued, strict=True)
            if q is None
        ]
        # On PostgreSQL a lead read as not queued may have been queued by a worker that committed
        # after this read began: the lead's row was free to lock, but the queue row that worker
        # wrote is not in this read's snapshot. Then it counts as one more attempt.
        table_name = QueuedLead.__tablename__
        again_by_now = {
            "kind": "excluded.kind",
            "reason": "excluded.reason",
            "attempts": f"{table_name}.attempts + 1",
        }
        bulk_upsert(
            session,
            table_name,
            ["lead_id", "kind", "reason", "since", "attempts"],
            fresh,
            key=["lead_id"],
            updates=again_by_now,
        )
        again = [
            (k, why, n + 1, lead_id)
            for lead_id, k, why, q, n in zip(lead, kind, reason, queued, attempts, strict=True)
            if q is not None
        ]
        bulk_update(session, table_name, ["kind", "reason", "attempts"], again, key="lead_id")
    changed = plan.changed_state()
    if changed:
        # an upsert: workers routing to different reps do not wait for each other, and may both
        # be the first to save a key (the estimates)
        bulk_upsert(
            session,
            RoutingState.__tablename__,
            ["key", "state", "updated_at"],
            [(key, json.dumps(value), at) for key, value in changed.items()],
            key=["key"],
            updates={"state": "excluded.state", "updated_at": "excluded.updated_at"},
        )


class _Rows:
    """Some rows of a plan (by position, in that order), each column read as a list when asked
    for. Many rows of a plan's frame are gathered by the frame at once (decisions.LIST_GATHER_MAX)."""

    def __init__(self, plan: RoutePlan, rows: list[int]) -> None:
        self.plan, self.rows = plan, rows
        self.every = len(rows) == plan.height and rows == list(range(plan.height))
        self.table: pl.DataFrame | None = None
        if not self.every and len(rows) > LIST_GATHER_MAX and isinstance(plan.rows, pl.DataFrame):
            self.table = take_rows(plan.rows, rows)

    def __getitem__(self, column: str) -> list[Any]:
        if self.table is not None:
            return self.table.get_column(column).to_list()
        values = self.plan.column(column)
        return values if self.every else [values[row] for row in self.rows]


_STATE = select(RoutingState.key, cast(RoutingState.state, Text))
# Each key's state as last read in this process, with the JSON text it was decoded from: the kept
# estimates and affinity of a ledger of a million leads are tens of kilobytes, a millisecond to
# decode, on every capture. Compared as text, a value is decoded again only when it changed.
_decoded: dict[str, tuple[str, dict[str, Any]]] = {}


def load_state(session: Session) -> dict[str, dict[str, Any]]:
    """The policies' saved state (round-robin pointers, weighted values) by key.

    The values are shared by the routing runs of this process: a run never changes one in
    place, it puts a new value under the key (which is how the plan tells what changed)."""
    state = {}
    for key, text in read_rows(session, _STATE):
        kept = _decoded.get(key)
        if kept is None or kept[0] != text:
            kept = _decoded[key] = (text, json.loads(text))
        state[key] = kept[1]
    return state
