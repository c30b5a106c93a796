"""Notifications on assignment and escalation: queued with what they report, a signed webhook to
a real HTTP server with retries and backoff, email to a real SMTP server, and the delivery log."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from leadflow.access.service import add_user
from leadflow.db import session_scope
from leadflow.models import Lead, Notification, Team
from leadflow.notify.deliver import deliver_due
from leadflow.routing.engine import route_leads
from leadflow.routing.sla import sla_sweep
from leadflow.settings import Notify, Settings, Sla, WorkingHours
from tests.conftest import Database

MONDAY = datetime(2026, 5, 11, 9, 0)
SECRET = "test-signing-secret"
REPS = [
    ["external_id", "name", "email", "team", "territory", "capacity"],
    ["ann", "Ann Lee", "ann@example.com", "East team", "East", "50"],
]
LEADS = [["external_id", "created_at", "territory", "company"], ["L1", "2026-05-11", "East", "Acme"]]


class Receiver:
    """A webhook endpoint on loopback that answers with the next of ``codes`` (then 200)."""

    def __init__(self, codes: list[int]) -> None:
        self.codes = codes
        self.calls: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.calls.append((dict(self.headers), body))
                self.send_response(outer.codes.pop(0) if outer.codes else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/leadflow"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver() -> Iterator[Any]:
    made: list[Receiver] = []

    def make(codes: list[int]) -> Receiver:
        made.append(Receiver(codes))
        return made[-1]

    yield make
    for r in made:
        r.close()


class Inbox:
    """An SMTP server on loopback (aiosmtpd) keeping what it receives."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox()
    yield box
    box.controller.stop()


def _ledger(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    assert db.cli("reps", "import", str(write_csv("r.csv", REPS)))[0] == 0
    assert db.cli("leads", "import", str(write_csv("l.csv", LEADS)))[0] == 0


def test_without_a_channel_nothing_is_queued(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    _ledger(db, write_csv)
    with session_scope(db.engine) as s:
        assert route_leads(s, settings=Settings(), now=MONDAY).count(None) == 1
        assert s.scalar(select(func.count()).select_from(Notification)) == 0


def test_assignment_webhook_is_signed_and_retried_with_backoff(
    db: Database, write_csv, receiver, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    _ledger(db, write_csv)
    monkeypatch.setenv("LEADFLOW_WEBHOOK_SECRET", SECRET)
    hook = receiver([500, 503])
    settings = Settings(notify=Notify(webhook_url=hook.url, backoff_seconds=30, max_attempts=5))
    with session_scope(db.engine) as s:
        route_leads(s, settings=settings, now=MONDAY)
        lead_id = s.scalars(select(Lead.id)).one()

    def deliver(at: datetime):  # type: ignore[no-untyped-def]
        with session_scope(db.engine) as s:
            return deliver_due(s, settings=settings, now=at)

    assert len(deliver(MONDAY).retrying) == 1  # 500
    assert deliver(MONDAY + timedelta(seconds=29)).retrying == []  # not due before 30 s
    assert len(deliver(MONDAY + timedelta(seconds=30)).retrying) == 1  # 503; next in 60 s
    assert deliver(MONDAY + timedelta(seconds=89)).delivered == []
    assert len(deliver(MONDAY + timedelta(seconds=90)).delivered) == 1
    assert deliver(MONDAY + timedelta(hours=1)).delivered == []  # delivered once only

    assert len(hook.calls) == 3
    deliveries = {headers["X-Leadflow-Delivery"] for headers, _ in hook.calls}
    assert len(deliveries) == 1  # the same id on every retry, for the receiver to drop repeats
    headers, body = hook.calls[-1]
    fields = dict(part.split("=", 1) for part in headers["X-Leadflow-Signature"].split(","))
    expected = hmac.new(SECRET.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(fields["v1"], expected)
    assert int(fields["t"]) == int((MONDAY + timedelta(seconds=90) - datetime(1970, 1, 1)).total_seconds())
    payload = json.loads(body)
    assert payload["event"] == "lead.assigned" and headers["X-Leadflow-Event"] == "lead.assigned"
    assert payload["lead"]["id"] == lead_id and payload["lead"]["company"] == "Acme"
    assert payload["rep"]["external_id"] == "ann" and payload["reason"]
    with session_scope(db.engine) as s:
        note = s.scalars(select(Notification)).one()
        assert (note.status, note.attempts, note.last_error) == ("delivered", 3, None)


def test_a_webhook_that_keeps_failing_is_marked_failed_with_its_error(
    db: Database, write_csv, receiver, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    _ledger(db, write_csv)
    monkeypatch.setenv("LEADFLOW_WEBHOOK_SECRET", SECRET)
    hook = receiver([500] * 10)
    settings = Settings(notify=Notify(webhook_url=hook.url, backoff_seconds=1, max_attempts=2))
    with session_scope(db.engine) as s:
        route_leads(s, settings=settings, now=MONDAY)
    for at in (MONDAY, MONDAY + timedelta(seconds=5), MONDAY + timedelta(seconds=60)):
        with session_scope(db.engine) as s:
            deliver_due(s, settings=settings, now=at)
    assert len(hook.calls) == 2
    code, out, _ = db.cli("notify", "log", "--status", "failed", "--format", "csv")
    assert code == 0 and "HTTP 500" in out and "lead.assigned" in out


def test_an_unsigned_webhook_is_never_sent(db: Database, write_csv, receiver, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _ledger(db, write_csv)
    monkeypatch.delenv("LEADFLOW_WEBHOOK_SECRET", raising=False)
    hook = receiver([])
    settings = Settings(notify=Notify(webhook_url=hook.url))
    with session_scope(db.engine) as s:
        route_leads(s, settings=settings, now=MONDAY)
        deliver_due(s, settings=settings, now=MONDAY)
        note = s.scalars(select(Notification)).one()
        assert note.status == "pending" and "LEADFLOW_WEBHOOK_SECRET" in (note.last_error or "")
    assert hook.calls == []


def test_escalation_emails_the_rep_and_their_manager(db: Database, write_csv, inbox: Inbox) -> None:  # type: ignore[no-untyped-def]
    _ledger(db, write_csv)
    settings = Settings(
        notify=Notify(smtp_host="127.0.0.1", smtp_port=inbox.port, smtp_starttls=False),
        sla=Sla(first_touch_hours={"D": 1}, working_hours=WorkingHours(start_hour=9, end_hour=17)),
    )
    with session_scope(db.engine) as s:
        east = s.scalars(select(Team).where(Team.name == "East team")).one()
        add_user(s, email="boss@example.com", name="Boss", role="manager", team=east)
        route_leads(s, settings=settings, now=MONDAY)
        sla_sweep(s, settings=settings, now=MONDAY + timedelta(hours=2))
        events = sorted((n.event, n.target) for n in s.scalars(select(Notification)))
    assert events == [
        ("lead.assigned", "ann@example.com"),
        ("lead.escalated", "ann@example.com"),
        ("lead.escalated", "boss@example.com"),
    ]
    with session_scope(db.engine) as s:
        assert len(deliver_due(s, settings=settings, now=MONDAY + timedelta(hours=2)).delivered) == 3
    received = sorted(
        (m.rcpt_tos[0], m.content.decode().split("Subject: ")[1].split("\r\n")[0]) for m in inbox.messages
    )
    assert received == [
        ("ann@example.com", "First touch overdue: Acme"),
        ("ann@example.com", "New lead for you: Acme (grade D)"),
        ("boss@example.com", "First touch overdue: Acme"),
    ]


def test_a_manual_assignment_notifies_the_rep(db: Database, write_csv, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _ledger(db, write_csv)
    config = tmp_path / "leadflow.toml"
    config.write_text('[notify]\nwebhook_url = "http://127.0.0.1:9/hook"\n')
    code, _, err = db.cli("--config", str(config), "assign", "L1", "ann", "--reason", "asked for her")
    assert code == 0, err
    with session_scope(db.engine) as s:
        note = s.scalars(select(Notification)).one()
        assert (note.event, note.payload["policy"], note.payload["reason"]) == (
            "lead.assigned",
            "manual",
            "asked for her",
        )
