"""The capture worker: posted leads are captured in a child process that lives as long as the
app, each stored once, with the same answers as in-process capture."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from leadflow.app import create_app
from leadflow.db import session_scope
from leadflow.models import AuditEntry, Lead
from leadflow.settings import Settings
from tests.api.conftest import Api
from tests.conftest import Database


def test_leads_posted_to_a_capture_worker_are_stored_once_and_answered(api: Api, db: Database) -> None:
    app = create_app(engine=db.engine, settings=Settings(), capture_worker=True)
    with TestClient(app) as client:  # the lifespan starts the worker and stops it
        assert len(multiprocessing.active_children()) == 1

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
