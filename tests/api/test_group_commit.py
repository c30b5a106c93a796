"""Group commit: concurrent requests share transactions, each gets its own answer, a bad one
cannot fail the others, and concurrent captures with keys store each lead once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from leadflow.api.group_commit import GroupCommit
from leadflow.db import session_scope
from leadflow.models import AuditEntry, IdempotentRequest, Lead
from tests.api.conftest import Api
from tests.conftest import Database


def test_concurrent_callers_are_batched_and_answered_each_their_own() -> None:
    sizes: list[int] = []
    lock = threading.Lock()

    def double(items: list[int]) -> list[int]:
        with lock:
            sizes.append(len(items))
        return [2 * i for i in items]

    commit: GroupCommit[int, int] = GroupCommit(double, max_batch=8, max_wait=0.01)
    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(commit.submit, range(200)))
    assert results == [2 * i for i in range(200)]
    assert sum(sizes) == 200 and max(sizes) > 1 and max(sizes) <= 8


def test_a_failing_item_fails_alone() -> None:
    def picky(items: list[int]) -> list[int]:
        if 13 in items:
            raise ValueError("thirteen")
        return items

    commit: GroupCommit[int, int] = GroupCommit(picky, max_wait=0.02)
    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(commit.submit, i) for i in range(20)]
    for i, future in enumerate(futures):
        if i == 13:
            with pytest.raises(ValueError, match="thirteen"):
                future.result()
        else:
            assert future.result() == i


def test_concurrent_captures_store_each_lead_once(api: Api, db: Database) -> None:
    def post(i: int) -> tuple[int, dict[str, object]]:
        client = TestClient(api.client.app)
        body = {"email": f"buyer{i % 20}@firm{i % 20}.example", "territory": "East"}
        headers = {**api.as_("intake"), "Idempotency-Key": f"key-{i % 20}"}
        answer = client.post("/v1/leads", json=body, headers=headers)
        return answer.status_code, answer.json()

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(post, range(60)))  # each of 20 leads posted 3 times with its key
    assert {code for code, _ in answers} == {201}
    by_key: dict[int, set[int]] = {}
    for i, (_, body) in enumerate(answers):
        by_key.setdefault(i % 20, set()).add(int(body["id"]))  # type: ignore[call-overload]
    assert all(len(ids) == 1 for ids in by_key.values())  # a replay answers with the same lead
    with session_scope(db.engine) as s:
        assert s.scalar(select(func.count()).select_from(Lead)) == 20
        assert s.scalar(select(func.count()).select_from(IdempotentRequest)) == 20
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 20
