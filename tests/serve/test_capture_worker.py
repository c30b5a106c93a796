"""The capture worker: posted leads are captured in a child process that lives as long as the
app, each stored once, with the same answers as in-process capture; it rehearses a capture
before the first request and leaves nothing of it behind."""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from leadflow.app import create_app
from leadflow.db import make_engine, session_scope
from leadflow.models import AuditEntry, Base, Lead
from leadflow.routing.engine import route_leads
from leadflow.serve.capturing import rehearse
from leadflow.settings import Routing, Settings
from tests.api.conftest import Api
from tests.conftest import Database


def test_leads_posted_to_a_capture_worker_are_stored_once_and_answered(api: Api, db: Database) -> None:
    app = create_app(engine=db.engine, settings=Settings(), capture_worker=True)
    with TestClient(app) as client:  # the lifespan starts the worker and stops it
        assert len(multiprocessing.active_children()) == 1
        # what the server started with is out of the collector's reach: no pauses to scan it
        assert gc.get_freeze_count() > 10_000
        # the capture process runs Polars on one thread; the server's own environment is as it was
        (child,) = multiprocessing.active_children()
        environ = Path(f"/proc/{child.pid}/environ").read_bytes().split(b"\0")
        assert b"POLARS_MAX_THREADS=1" in environ
        assert os.environ.get("POLARS_MAX_THREADS") != "1"

        def post(i: int) -> tuple[int, dict[str, object]]:
            body = {"email": f"buyer{i % 12}@firm{i % 12}.example", "territory": "East" if i % 2 else "West"}
            headers = {**api.as_("intake"), "Idempotency-Key": f"key-{i % 12}"}
            answer = client.post("/v1/leads", json=body, headers=headers)
            return answer.status_code, answer.json()

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(post, range(36)))  # each of 12 leads three times, with its key
        bad = client.post("/v1/leads", json={"email": "not an address"}, headers=api.as_("intake"))
    assert multiprocessing.active_children() == []
    assert {code for code, _ in answers} == {201}
    for i, (_, body) in enumerate(answers):
        assert body["id"] == answers[i % 12][1]["id"]  # a replay answers with the same lead
        assert body["owner"] == ("ann" if (i % 12) % 2 else "wes")
    assert bad.status_code == 422
    with session_scope(db.engine) as s:
        assert s.scalar(select(func.count()).select_from(Lead)) == 12
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 12


def _row_counts(db: Database) -> dict[str, int]:
    with session_scope(db.engine) as s:
        return {
            t.name: s.scalar(select(func.count()).select_from(t)) or 0 for t in Base.metadata.sorted_tables
        }


def test_a_rehearsal_captures_and_routes_a_lead_and_leaves_the_ledger_as_it_was(
    api: Api, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(routing=Routing(fallback_team="East team"))  # so that it is routed to Ann
    before = _row_counts(db)
    with caplog.at_level(logging.WARNING, logger="leadflow.capture"):
        rehearse(db.engine, settings)
    assert caplog.records == []  # it really captured, scored and routed; nothing failed
    assert _row_counts(db) == before
    # a real lead in its place is routed to Ann and stays: the rehearsal did route, and rolled back
    answer = api.client.post("/v1/leads", json={"email": "real@firm.example"}, headers=api.as_("intake"))
    assert answer.status_code == 201
    with session_scope(db.engine) as s:
        routed = route_leads(s, settings=settings, lead_ids=[answer.json()["id"]], by="test")
        assert [d.rep_external_id for d in routed.decisions] == ["ann"]
    after = _row_counts(db)
    assert after["leads"] == before["leads"] + 1 and after["assignments"] == before["assignments"] + 1


def test_a_failed_rehearsal_is_logged_and_does_not_stop_the_server(caplog: pytest.LogCaptureFixture) -> None:
    empty = make_engine("sqlite://")  # no tables: the capture fails
    with caplog.at_level(logging.WARNING, logger="leadflow.capture"):
        rehearse(empty, Settings())
    assert [r.getMessage() for r in caplog.records] == ["the capture rehearsal failed"]
