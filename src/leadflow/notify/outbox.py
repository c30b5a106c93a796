"""Queue notifications in the caller's transaction, so that a message exists exactly when what it
reports (an assignment, an escalation) was committed; delivery comes after (notify.deliver)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadflow.db import bulk_insert, driver_rows
from leadflow.models import Lead, Rep, User, utcnow
from leadflow.settings import Settings


@dataclass(frozen=True)
class LeadEvent:
    """Something that happened to a lead that its rep (and, on escalation, the manager) hears of."""

    event: str  # lead.assigned | lead.escalated
    lead_id: int
    rep_id: int
    detail: dict[str, Any]  # policy, reason, deadline...


def queue_notifications(
    session: Session, *, settings: Settings, events: list[LeadEvent], now: datetime | None = None
) -> int:
    """Queue a webhook call and emails for each event (nothing when no channel is configured);
    the number of messages queued."""
    notify = settings.notify
    if not notify.enabled or not events:
        return 0
    now = now or utcnow()
    lead_ids = sorted({e.lead_id for e in events})
    rep_ids = sorted({e.rep_id for e in events})
    leads: dict[int, dict[str, Any]] = {}
    for start in range(0, len(lead_ids), 5000):
        chunk = lead_ids[start : start + 5000]
        query = select(Lead.id, Lead.external_id, Lead.company, Lead.grade, Lead.win_probability).where(
            Lead.id.in_(chunk)
        )
        for lead_id, external_id, company, grade, p in session.execute(query).all():
            leads[lead_id] = {"id": lead_id, "external_id": external_id, "company": company, "grade": grade,
                              "win_probability": p}  # fmt: skip
    found = session.execute(
        select(Rep.id, Rep.external_id, Rep.name, Rep.email, Rep.team_id).where(Rep.id.in_(rep_ids))
    ).all()
    reps: dict[int, dict[str, Any]] = {r: {"id": r, "external_id": external_id, "name": name, "email": email}
            for r, external_id, name, email, _ in found}  # fmt: skip
    team_of: dict[int, int | None] = {r: team for r, *_, team in found}
    managers: dict[int | None, list[str]] = {}
    if notify.smtp_host and any(e.event == "lead.escalated" for e in events):
        for team_id, email in session.execute(
            select(User.team_id, User.email).where(User.role == "manager", User.active.is_(True))
        ).all():
            managers.setdefault(team_id, []).append(email)
    rows: list[tuple[str, int, int, str, str, str]] = []
    for e in events:
        rep = reps.get(e.rep_id, {})
        payload = {
            "event": e.event,
            "at": now.isoformat(timespec="seconds") + "Z",
            "lead": leads.get(e.lead_id, {"id": e.lead_id}),
            "rep": rep,
            **e.detail,
        }
        text = json.dumps(payload, default=str)
        if notify.webhook_url:
            rows.append((e.event, e.lead_id, e.rep_id, "webhook", notify.webhook_url, text))
        if notify.smtp_host:
            address: str | None = rep.get("email")
            to = [address] if address else []
            team = team_of.get(e.rep_id)
            if e.event == "lead.escalated" and team is not None:
                to += managers.get(team, [])
            rows += [(e.event, e.lead_id, e.rep_id, "email", address, text) for address in to]
    if rows:
        frame = pl.DataFrame(
            rows, schema=["event", "lead_id", "rep_id", "channel", "target", "payload"], orient="row"
        ).with_columns(
            pl.lit("pending").alias("status"),
            pl.lit(0).alias("attempts"),
            pl.lit(now).cast(pl.Datetime("us")).alias("next_attempt_at"),
            pl.lit(now).cast(pl.Datetime("us")).alias("created_at"),
        )
        bulk_insert(session, "notifications", frame.columns, driver_rows(session, frame))
    return len(rows)
