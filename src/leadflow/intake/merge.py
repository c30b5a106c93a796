"""What a merge of a known lead checks and keeps besides its fields: an external id reused for
another person, the values a duplicate offered and the lead kept, and its extra attributes."""

from __future__ import annotations

import json
from datetime import datetime

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadflow.db import bulk_insert, driver_rows
from leadflow.intake.lead_frame import DATA, fetch_leads
from leadflow.intake.rejects import Reject
from leadflow.intake.validate import reject_rows
from leadflow.ledger.keys import phone_key_expr
from leadflow.models import Activity


def identity_conflicts(
    session: Session, rows: pl.DataFrame, *, file: str
) -> tuple[pl.DataFrame, list[Reject]]:
    """Set aside rows found by an external id whose lead is another person: a different email
    and phone, none shared. CRMs reuse ids; merging would overwrite one person with another."""
    by_id = rows.filter(pl.col("_match") == "external_id")
    if by_id.is_empty():
        return rows, []
    existing = fetch_leads(session, by_id.get_column("_target").unique().to_list()).select(
        pl.col("id").alias("_target"),
        pl.col("email").alias("_old_email"),
        phone_key_expr(pl.col("phone")).alias("_old_phone"),
    )
    checked = rows.join(existing, on="_target", how="left", maintain_order="left")
    pairs = [("email_key", "_old_email"), ("phone_key", "_old_phone")]
    same = pl.any_horizontal(pl.col(new).eq(pl.col(old)).fill_null(False) for new, old in pairs)
    differs = pl.any_horizontal(pl.col(new).ne(pl.col(old)).fill_null(False) for new, old in pairs)
    conflict = checked.select((pl.col("_match") == "external_id") & differs & ~same).to_series()
    if not conflict.any():
        return rows, []
    reason = "this external id is another lead's, with a different email and phone; not merged"
    rejects = reject_rows(rows, conflict, file=file, column="external_id", reason=reason)
    return rows.filter(~conflict), rejects


def note_offered(
    session: Session, joined: pl.DataFrame, now: datetime, *, file: str, applied: set[str]
) -> None:
    """A note on each known lead for the values a capture offered that differ from what the
    lead already has (kept, not applied): who sent what, for the owner to judge."""
    skipped = {"external_id", "extra", "created_at", *applied}
    fields = [c for c in DATA if c not in skipped and f"{c}_old" in joined.columns]
    offered = [
        pl.when(
            pl.col(c).is_not_null() & pl.col(f"{c}_old").is_not_null() & pl.col(c).ne(pl.col(f"{c}_old"))
        ).then(
            pl.format(f"{c} {{}} (kept {{}})", pl.col(c).cast(pl.String), pl.col(f"{c}_old").cast(pl.String))
        )
        for c in fields
    ]
    notes = joined.select(
        pl.col("_target").alias("lead_id"),
        pl.concat_str(offered, separator="; ", ignore_nulls=True).alias("text"),
    ).filter(pl.col("text").str.len_chars() > 0)
    if notes.is_empty():
        return
    rows = notes.select(
        "lead_id",
        pl.lit(now).alias("at"),
        pl.lit("note").alias("kind"),
        (pl.lit(f"{file} offered, not applied: ") + pl.col("text")).alias("note"),
    )
    # the same offer again (a file imported twice) is already noted
    noted = session.execute(
        select(Activity.lead_id, Activity.note).where(
            Activity.kind == "note", Activity.lead_id.in_(rows["lead_id"].unique().to_list())
        )
    ).all()
    seen = pl.DataFrame(noted, schema={"lead_id": pl.Int64, "note": pl.String}, orient="row")
    rows = rows.join(seen, on=["lead_id", "note"], how="anti")
    if not rows.is_empty():
        bulk_insert(session, "activities", rows.columns, driver_rows(session, rows))


def merge_extra(old: str | None, new: list[str] | None, *, keep_old: bool = False) -> str | None:
    if not new:
        return old
    merged: dict[str, object] = json.loads(old) if old else {}
    known = dict(merged)
    for item in new:
        merged.update(json.loads(item))
    if keep_old:
        merged.update(known)
    return json.dumps(merged)
