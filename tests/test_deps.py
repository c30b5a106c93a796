"""A request's transaction: committed before the answer leaves, so an answer never claims what
was not written."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from leadflow.app import create_app
from leadflow.db import session_scope
from leadflow.models import Activity, Lead
from leadflow.settings import Settings
from tests.api.conftest import Api, api
from tests.conftest import Database

__all__ = ["api"]


@pytest.fixture
def failing_commits() -> Iterator[None]:
    def refuse(session: Session) -> None:
        logged = select(func.count(Activity.id)).where(Activity.note == "the call that cannot be kept")
        if session.scalar(logged):  # the request's own write, not its sign-in
            raise RuntimeError("the disk is full")

    event.listen(Session, "before_commit", refuse)
    yield
    event.remove(Session, "before_commit", refuse)


def test_a_commit_that_fails_answers_500_not_created(api: Api, db: Database, failing_commits: Any) -> None:
    client = TestClient(create_app(engine=db.engine, settings=Settings()), raise_server_exceptions=False)
    lead = client.post("/v1/leads", json={"email": "dana@acme.example"}, headers=api.as_("admin")).json()
    call = {"kind": "call", "outcome": "connected", "note": "the call that cannot be kept"}
    logged = client.post(f"/v1/leads/{lead['id']}/activities", json=call, headers=api.as_("admin"))
    assert logged.status_code == 500
    with session_scope(db.engine) as s:
        assert s.scalars(select(Activity.note).where(Activity.kind == "call")).all() == []


def test_what_a_request_wrote_is_there_when_its_answer_arrives(api: Api, db: Database) -> None:
    posted = api.client.post("/v1/leads", json={"email": "dana@acme.example"}, headers=api.as_("admin"))
    assert posted.status_code == 201
    with session_scope(db.engine) as s:  # a second connection, as the client's next request would be
        assert s.scalars(select(Lead.email)).all() == ["dana@acme.example"]
