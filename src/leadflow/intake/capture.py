"""Capture leads as they arrive (a web form, another system's API call) and route them at once.

The same validation, dedupe and scoring as a CSV import, for a handful of records: a record is
a mapping of canonical lead columns (design.md) to values; any other key is kept as an extra
attribute. A record without a creation date is dated by its arrival. A record that duplicates
a known lead merges into it. New leads are routed in the same transaction (the caller's), so a
captured lead is never seen without its owner or its place in the queue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadflow.db import frame_of, in_values, read_rows
from leadflow.intake.columns import SPECS, FileMapping
from leadflow.intake.leads import LeadWriter
from leadflow.intake.rejects import Reject, shorten
from leadflow.intake.validate import clean_batch
from leadflow.models import Lead, QueuedLead, Rep, utcnow
from leadflow.routing.engine import route_leads
from leadflow.schemas import CapturedLead
from leadflow.settings import Settings

# What only the lifecycle services set (by the roles allowed to use them), never a capture.
LIFECYCLE = frozenset(
    ("owner", "assigned_at", "first_touch_at", "stage", "won_at", "lost_at", "closed_at", "amount",
     "product", "lost_reason")
)  # fmt: skip
LIFECYCLE_REASON = (
    "a capture may not set a lead's owner, stage, outcome or amount; assign it and move it on "
    "with `leadflow assign` and `leadflow stage set` (or the API's /assign and /stage)"
)


# What a capture answers of each lead it stored or merged into, read back as the ledger has it.
_ANSWERS = (
    select(
        Lead.id,
        Lead.external_id,
        Lead.stage,
        Lead.fit_score,
        Lead.grade,
        Lead.win_probability,
        Rep.external_id.label("owner"),
        QueuedLead.kind.label("queue"),
        QueuedLead.reason.label("queued_why"),
    )
    .outerjoin(Rep, Rep.id == Lead.owner_id)
    .outerjoin(QueuedLead, QueuedLead.lead_id == Lead.id)
    .where(in_values(Lead.id, "ids"))
)


@dataclass
class CaptureResult:
    """The leads captured and the records set aside (``line`` is the record's position)."""

    leads: list[CapturedLead] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


def capture_leads(
    session: Session,
    *,
    settings: Settings,
    records: Sequence[Mapping[str, Any]],
    channel: str,
    route: bool = True,
    now: datetime | None = None,
) -> CaptureResult:
    """Validate, deduplicate, insert or merge, score and (``route``) route posted lead records.

    A record may say what a form or a partner knows of a lead (person, company, source, BANT,
    extra attributes), never its owner, stage, outcome or amount: a record that tries is set
    aside with why. A record that matches a known lead fills that lead's blanks only."""
    now = now or utcnow()  # the records' arrival, and when the new leads are routed
    refused = [
        Reject(channel, line, key, shorten(str(record[key])), LIFECYCLE_REASON)
        for line, record in enumerate(records, start=1)
        for key in sorted(LIFECYCLE & set(record))
    ]
    if refused:
        lines = {r.line for r in refused}
        kept = [(line, r) for line, r in enumerate(records, start=1) if line not in lines]
        if not kept:
            return CaptureResult(rejects=refused)
        result = capture_leads(
            session, settings=settings, records=[r for _, r in kept], channel=channel, route=route, now=now
        )
        renumber = {i: line for i, (line, _) in enumerate(kept, start=1)}
        for lead in result.leads:
            lead.record = renumber[lead.record or 0]
        result.rejects = [*refused, *(replace(r, line=renumber[r.line]) for r in result.rejects)]
        return result
    canonical = set(SPECS["leads"].names)
    names = sorted({key for record in records for key in record})
    columns = {name: name if name in canonical else f"extra:{name}" for name in names}
    raw = frame_of(
        [
            pl.Series("_line", range(1, len(records) + 1), dtype=pl.Int64),
            *(
                pl.Series(columns[n], [_text(record.get(n)) for record in records], dtype=pl.String)
                for n in names
            ),
        ]
    )
    cleaned = clean_batch(raw, SPECS["leads"], FileMapping(), settings=settings, file=channel)
    result = CaptureResult(rejects=list(cleaned.rejects))
    if cleaned.frame.is_empty():
        return result
    writer = LeadWriter(
        session,
        file=channel,
        mapping=FileMapping(),
        settings=settings,
        scoped=True,
        arrived=now,
        fill_blanks=True,
    )
    written = writer.write(session, cleaned.frame)
    result.rejects.extend(written.rejects)
    reasons: dict[int, str] = {}  # why each routed lead went where it went
    if route:
        fresh = [
            i
            for i, new in zip(written.leads["id"].to_list(), written.leads["new"].to_list(), strict=True)
            if new
        ]
        if fresh:
            plan = route_leads(session, settings=settings, lead_ids=fresh, now=now, by=channel)
            reasons = dict(zip(plan.column("lead_id"), plan.column("reason"), strict=True))
    ids = written.leads["id"].to_list()
    rows = {row.id: row for row in read_rows(session, _ANSWERS, {"ids": ids})}
    for line, lead_id, new in sorted(zip(*(c.to_list() for c in written.leads.iter_columns()), strict=True)):
        row = rows[lead_id]
        result.leads.append(
            CapturedLead(
                record=line,
                id=lead_id,
                external_id=row.external_id,
                new=new,
                stage=row.stage,
                fit_score=row.fit_score,
                grade=row.grade,
                win_probability=row.win_probability,
                owner=row.owner,
                queue=row.queue if row.owner is None else None,
                reason=reasons.get(lead_id, row.queued_why if row.owner is None else None),
            )
        )
    return result
