"""Send queued notifications: webhooks signed with HMAC-SHA256, email through SMTP; a failure is
retried with exponential backoff up to ``notify.max_attempts``, and every outcome is kept (the
delivery log).

The signature header is ``X-Leadflow-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<body>">`` under the secret in the environment variable ``notify.webhook_secret_env``; the
receiver recomputes it and rejects old timestamps, so a captured call cannot be replayed later.
``X-Leadflow-Delivery`` carries the notification's id, the same on every retry, so a receiver can
ignore a repeat.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import smtplib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import httpx
import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadflow.db import is_sqlite
from leadflow.models import Notification, utcnow
from leadflow.settings import Notify, Settings


class DeliveryError(Exception):
    """One attempt failed; the message says why."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for a body sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def _post_webhook(notify: Notify, note: Notification, now: datetime) -> None:
    secret = os.environ.get(notify.webhook_secret_env)
    if not secret:
        raise DeliveryError(f"no signing secret: set {notify.webhook_secret_env}")
    body = json.dumps(note.payload, sort_keys=True).encode()
    timestamp = int(now.replace(tzinfo=UTC).timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "leadflow",
        "X-Leadflow-Event": note.event,
        "X-Leadflow-Delivery": str(note.id),
        "X-Leadflow-Signature": signature(secret, timestamp, body),
    }
    try:
        answer = httpx.post(note.target, content=body, headers=headers, timeout=notify.timeout_seconds)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
    if not answer.is_success:
        raise DeliveryError(f"HTTP {answer.status_code}: {answer.text[:200]}")


def _subject(note: Notification) -> str:
    lead = note.payload.get("lead", {})
    name = lead.get("company") or lead.get("external_id") or lead.get("id")
    if note.event == "lead.escalated":
        return f"First touch overdue: {name}"
    return f"New lead for you: {name} (grade {lead.get('grade') or '-'})"


def _send_email(notify: Notify, note: Notification) -> None:
    lead = note.payload.get("lead", {})
    message = EmailMessage()
    message["From"] = notify.email_from
    message["To"] = note.target
    message["Subject"] = _subject(note)
    lines = [_subject(note), ""]
    lines += [f"{key}: {value}" for key, value in lead.items() if value is not None]
    lines += [f"{key}: {value}" for key, value in note.payload.items() if key not in ("lead", "rep", "event")]
    message.set_content("\n".join(lines))
    user, password = os.environ.get(notify.smtp_user_env), os.environ.get(notify.smtp_password_env)
    try:
        with smtplib.SMTP(notify.smtp_host or "", notify.smtp_port, timeout=notify.timeout_seconds) as smtp:
            if notify.smtp_starttls:
                smtp.starttls()
            if user and password:
                smtp.login(user, password)
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc


@dataclass
class DeliveryRound:
    """What one round of delivery did, by notification id."""

    delivered: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def deliver_due(
    session: Session, *, settings: Settings, now: datetime | None = None, limit: int = 200
) -> DeliveryRound:
    """Try every pending notification whose time has come (on PostgreSQL, rows another worker is
    sending are skipped), recording each outcome."""
    now = now or utcnow()
    notify = settings.notify
    query = (
        select(Notification)
        .where(Notification.status == "pending", Notification.next_attempt_at <= now)
        .order_by(Notification.next_attempt_at, Notification.id)
        .limit(limit)
    )
    if not is_sqlite(session):
        query = query.with_for_update(skip_locked=True)
    done = DeliveryRound()
    for note in session.scalars(query).all():
        note.attempts += 1
        try:
            if note.channel == "webhook":
                _post_webhook(notify, note, now)
            else:
                _send_email(notify, note)
        except DeliveryError as exc:
            note.last_error = str(exc)[:1000]
            if note.attempts >= notify.max_attempts:
                note.status = "failed"
                done.failed.append(note.id)
            else:
                note.next_attempt_at = now + timedelta(
                    seconds=notify.backoff_seconds * 2 ** (note.attempts - 1)
                )
                done.retrying.append(note.id)
            continue
        note.status, note.delivered_at, note.last_error = "delivered", now, None
        done.delivered.append(note.id)
    session.flush()
    return done


def delivery_log(session: Session, *, status: str | None = None, limit: int = 100) -> pl.DataFrame:
    """The newest notifications with their delivery status, attempts and last error."""
    query = select(
        Notification.id, Notification.created_at, Notification.event, Notification.lead_id,
        Notification.channel, Notification.target, Notification.status, Notification.attempts,
        Notification.next_attempt_at, Notification.delivered_at, Notification.last_error,
    ).order_by(Notification.id.desc()).limit(limit)  # fmt: skip
    if status:
        query = query.where(Notification.status == status)
    columns = ["id", "created_at", "event", "lead_id", "channel", "target", "status", "attempts",
               "next_attempt_at", "delivered_at", "last_error"]  # fmt: skip
    return pl.DataFrame(session.execute(query).all(), schema=columns, orient="row", infer_schema_length=None)
