"""Write a cleaned batch of activities: resolve lead and rep, skip ones already recorded."""

from __future__ import annotations

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadflow.db import bulk_insert, driver_rows
from leadflow.intake.dedupe import LeadIndex
from leadflow.intake.lookups import rep_lookup, resolve_reps
from leadflow.intake.reference import RefBatchResult
from leadflow.intake.validate import reject_rows
from leadflow.models import Activity
from leadflow.pipeline.activities import refresh_first_touch
from leadflow.scoring.service import score_leads
from leadflow.settings import Settings

ACTIVITY_SCHEMA: dict[str, pl.DataType] = {
    "lead_id": pl.Int64(),
    "rep_id": pl.Int64(),
    "at": pl.Datetime("us"),
    "kind": pl.String(),
}


class ActivityWriter:
    """Writes batches of one activities import."""

    def __init__(self, session: Session, *, file: str, settings: Settings) -> None:
        self.file = file
        self.settings = settings
        self.reps = rep_lookup(session)
        self.leads = LeadIndex.load(session).by_external_id()  # its own or a merged duplicate's

    def write(self, session: Session, frame: pl.DataFrame) -> RefBatchResult:
        """Insert the batch's new activities and update the leads' first touch."""
        result = RefBatchResult()
        for name in ("rep", "outcome", "note"):
            if name not in frame.columns:
                frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(name))
        frame = frame.join(
            self.leads.rename({"key": "lead", "id": "lead_id"}),
            on="lead",
            how="left",
            maintain_order="left",
        )
        unknown_lead = frame["lead_id"].is_null()
        result.rejects += reject_rows(
            frame,
            unknown_lead,
            file=self.file,
            column="lead",
            reason="no lead with this external id",
        )
        frame = resolve_reps(frame.filter(~unknown_lead), "rep", self.reps, "rep_id")
        unknown_rep = frame["rep"].is_not_null() & frame["rep_id"].is_null()
        result.rejects += reject_rows(
            frame,
            unknown_rep,
            file=self.file,
            column="rep",
            reason="no such rep (external id, name or email)",
        )
        frame = frame.filter(~unknown_rep).unique(
            subset=list(ACTIVITY_SCHEMA), keep="first", maintain_order=True
        )
        lead_ids = frame.get_column("lead_id").unique().to_list()
        existing = pl.DataFrame(
            [
                row
                for start in range(0, len(lead_ids), 5000)
                for row in session.execute(
                    select(Activity.lead_id, Activity.rep_id, Activity.at, Activity.kind).where(
                        Activity.lead_id.in_(lead_ids[start : start + 5000])
                    )
                ).all()
            ],
            schema=ACTIVITY_SCHEMA,
            orient="row",
        )
        fresh = frame.join(existing, on=list(ACTIVITY_SCHEMA), how="anti", nulls_equal=True)
        rows = fresh.select("lead_id", "rep_id", "at", "kind", "outcome", "note")
        bulk_insert(session, "activities", rows.columns, driver_rows(session, rows))
        touched = fresh.get_column("lead_id").unique().to_list()
        refresh_first_touch(session, lead_ids=touched)
        score_leads(session, settings=self.settings, lead_ids=touched)
        result.new = fresh.height
        result.unchanged = frame.height - fresh.height
        return result
