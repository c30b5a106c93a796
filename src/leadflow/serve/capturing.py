"""Capturing posted leads for the API: idempotency, capture, the answer and the audit, for a batch
of requests in one transaction (see group_commit), each request answered on its own."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from fastapi import status
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from leadflow.access.scope import can_see_lead
from leadflow.access.service import Write, record_writes
from leadflow.db import session_factory, session_scope
from leadflow.intake.capture import capture_leads
from leadflow.ledger.settings_versions import settings_in_force
from leadflow.models import IdempotentRequest, Lead, User, utcnow
from leadflow.schemas import LeadIn
from leadflow.settings import Settings

log = logging.getLogger("leadflow.capture")
# A capture that merged into a lead its caller may not read answers without what that lead is.
HIDDEN_ON_MERGE = ("stage", "fit_score", "grade", "win_probability", "owner", "queue")
MERGED = "merged into a known lead: what it offered filled that lead's blanks"


def _may_read(session: Session, *, user_id: int, lead_id: int) -> bool:
    user, lead = session.get(User, user_id), session.get(Lead, lead_id)
    return user is not None and lead is not None and can_see_lead(session, user=user, lead=lead)


@dataclass(frozen=True)
class CaptureRequest:
    """One posted lead and who posted it, with its Idempotency-Key if any."""

    user_id: int
    actor: str  # the user's email
    lead: LeadIn
    key: str | None

    @property
    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = self.lead.model_dump(mode="json")
        return body

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.body, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Answer:
    """The HTTP status and body for one request."""

    status_code: int
    body: Any


def capture_requests(session: Session, *, settings: Settings, requests: list[CaptureRequest]) -> list[Answer]:
    """Capture the posted leads, in the caller's transaction, by the settings in force (``settings``
    is the bootstrap); one answer per request, in order.

    A key seen before replays its first answer (or 422 if the body differs); a key repeated in
    the batch is answered like the first request with it."""
    answers: dict[int, Answer] = {}
    first_with_key: dict[tuple[int, str], int] = {}
    todo: list[tuple[int, dict[str, Any]]] = []
    for position, request in enumerate(requests):
        if request.key:
            earlier = session.get(IdempotentRequest, (request.user_id, request.key))
            if earlier is not None:
                same = earlier.fingerprint == request.fingerprint
                answers[position] = Answer(earlier.status_code, earlier.response) if same else _reused_key()
                continue
            if (request.user_id, request.key) in first_with_key:
                continue  # answered below, like the first request with this key
            first_with_key[(request.user_id, request.key)] = position
        try:
            todo.append((position, request.lead.record()))
        except ValueError as exc:
            answers[position] = Answer(status.HTTP_422_UNPROCESSABLE_CONTENT, {"detail": str(exc)})
    by_channel: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    settings = settings_in_force(session, bootstrap=settings)
    for position, record in todo:
        by_channel.setdefault(f"api:{requests[position].actor}", []).append((position, record))
    now = utcnow()
    audit: list[Write] = []
    for channel, items in by_channel.items():
        result = capture_leads(session, settings=settings, records=[r for _, r in items], channel=channel)
        captured = {c.record: c for c in result.leads}
        problems: dict[int, list[dict[str, Any]]] = {}
        for reject in result.rejects:
            problems.setdefault(reject.line, []).append(
                {"field": reject.column, "value": reject.value, "reason": reject.reason}
            )
        for index, (position, _) in enumerate(items, start=1):
            request = requests[position]
            if index not in captured:
                answers[position] = Answer(
                    status.HTTP_422_UNPROCESSABLE_CONTENT, {"detail": problems.get(index, [])}
                )
                continue
            lead = captured[index]
            if not lead.new and not _may_read(session, user_id=request.user_id, lead_id=lead.id):
                lead = lead.model_copy(update=dict.fromkeys(HIDDEN_ON_MERGE) | {"reason": MERGED})
            payload: dict[str, Any] = lead.model_dump(mode="json")
            code = status.HTTP_201_CREATED if lead.new else status.HTTP_200_OK
            answers[position] = Answer(code, payload)
            action = "capture lead" if lead.new else "merge captured lead"
            audit.append(
                (
                    request.actor,
                    action,
                    "lead",
                    str(lead.id),
                    None,
                    {"posted": request.body, "result": payload},
                )
            )
            if request.key:
                session.add(
                    IdempotentRequest(
                        user_id=request.user_id, key=request.key, fingerprint=request.fingerprint,
                        status_code=code, response=payload, created_at=now,
                    )
                )  # fmt: skip
    record_writes(session, writes=audit)
    for position, request in enumerate(requests):
        if position not in answers and request.key:
            first = first_with_key[(request.user_id, request.key)]
            same = requests[first].fingerprint == request.fingerprint
            answers[position] = answers[first] if same else _reused_key()
    session.flush()
    return [answers[p] for p in range(len(requests))]


def _reused_key() -> Answer:
    return Answer(
        status.HTTP_422_UNPROCESSABLE_CONTENT, {"detail": "this Idempotency-Key was used with another body"}
    )


def capture_in_own_transaction(
    engine: Engine, settings: Settings, requests: list[CaptureRequest]
) -> list[Answer]:
    """One batch, one transaction: what group commit runs."""
    with session_scope(engine, write=True) as session:
        return capture_requests(session, settings=settings, requests=requests)


def rehearse(engine: Engine, settings: Settings) -> None:
    """Capture a made-up lead and roll it back, so that the first real request does not pay for
    loading the model, compiling the statements and starting Polars' threads (on this machine a
    process's first batch took 264 ms, the next ones 72-90 ms). A rehearsal that fails is
    logged and does not stop the server: real requests then get their own errors."""
    lead = LeadIn(
        email="rehearsal@leadflow.example", first_name="Capture", last_name="Rehearsal",
        company="leadflow rehearsal", lead_type="web form",
    )  # fmt: skip
    session = session_factory(engine)()
    try:
        capture_requests(
            session,
            settings=settings,
            requests=[CaptureRequest(user_id=0, actor="rehearsal", lead=lead, key=None)],
        )
    except Exception:
        log.warning("the capture rehearsal failed", exc_info=True)
    finally:
        session.rollback()
        session.close()
