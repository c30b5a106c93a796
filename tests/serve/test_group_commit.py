"""Group commit: concurrent requests share transactions, each gets its own answer, a bad one
cannot fail the others, and concurrent captures with keys store each lead once."""

from __future__ import annotations

import asyncio
import itertools
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from leadflow.db import session_scope
from leadflow.models import AuditEntry, IdempotentRequest, Lead
from leadflow.serve.group_commit import GroupCommit
from tests.api.conftest import Api
from tests.conftest import Database


def test_concurrent_callers_are_batched_and_answered_each_their_own() -> None:
    sizes: list[int] = []
    threads: set[int] = set()

    def double(items: list[int]) -> list[int]:
        sizes.append(len(items))
        threads.add(threading.get_ident())
        return [2 * i for i in items]

    commit: GroupCommit[int, int] = GroupCommit(double, max_batch=8, max_wait=0.01)

    async def post_all() -> list[int]:
        return await asyncio.gather(*(commit.submit(i) for i in range(200)))

    assert asyncio.run(post_all()) == [2 * i for i in range(200)]
    assert sum(sizes) == 200 and max(sizes) == 8  # all waiting at once: full batches
    assert threading.get_ident() not in threads  # the batches ran off the event loop


def test_callers_in_different_event_loops_get_their_own_answers() -> None:
    commit: GroupCommit[int, int] = GroupCommit(lambda items: [-i for i in items], max_wait=0.02)

    def in_own_loop(i: int) -> int:
        return asyncio.run(commit.submit(i))

    with ThreadPoolExecutor(16) as pool:
        assert list(pool.map(in_own_loop, range(40))) == [-i for i in range(40)]


@pytest.mark.parametrize("depth", [1, 2])
def test_a_failing_item_fails_alone(depth: int) -> None:
    def picky(items: list[int]) -> list[int]:
        if 13 in items:
            raise ValueError("thirteen")
        return items

    commit: GroupCommit[int, int] = GroupCommit(picky, max_wait=0.02, depth=depth)

    async def post_all() -> list[int | BaseException]:
        return await asyncio.gather(*(commit.submit(i) for i in range(20)), return_exceptions=True)

    answers = asyncio.run(post_all())
    assert isinstance(answers[13], ValueError) and str(answers[13]) == "thirteen"
    assert [a for i, a in enumerate(answers) if i != 13] == [i for i in range(20) if i != 13]


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


def test_an_answer_for_a_closed_event_loop_does_not_stop_the_worker() -> None:
    commit: GroupCommit[int, int] = GroupCommit(lambda items: items, max_wait=0.05)

    async def leave_early() -> None:
        pending = asyncio.ensure_future(commit.submit(1))
        await asyncio.sleep(0)  # submitted; its loop closes before the batch is answered
        assert not pending.done()

    asyncio.run(leave_early())

    async def later() -> int:
        return await asyncio.wait_for(commit.submit(2), timeout=5)

    assert asyncio.run(later()) == 2


def test_callers_coming_back_a_few_milliseconds_apart_are_batched_together() -> None:
    sizes: list[int] = []

    def record(items: list[int]) -> list[int]:
        sizes.append(len(items))
        time.sleep(0.02)  # a batch's fixed cost
        return items

    commit: GroupCommit[int, int] = GroupCommit(record, max_wait=0.003, max_delay=0.5)

    async def client(number: int) -> None:
        for round_ in range(4):
            assert await commit.submit(100 * number + round_) == 100 * number + round_
            await asyncio.sleep(0.002 * number)  # each client takes its own time to post again

    async def clients() -> None:
        await asyncio.gather(*(client(n) for n in range(8)))

    asyncio.run(clients())
    assert sizes == [8, 8, 8, 8]  # not split into the quick and the slow


def idle_between_batches(depth: int) -> tuple[float, list[int]]:
    """Sixteen clients posting one item after another, in batches of up to 8, to a process like
    the capture process: a batch travels to it and back (5 ms each way) and it takes one batch
    at a time (30 ms of work). Its median idle time between batches, and the batch sizes; every
    caller must get its own answer back."""
    taking = threading.Lock()
    spans: list[tuple[float, float]] = []
    sizes: list[int] = []

    def slow(items: list[int]) -> list[int]:
        time.sleep(0.005)
        with taking:
            started = time.monotonic()
            time.sleep(0.03)
            spans.append((started, time.monotonic()))
            sizes.append(len(items))
        time.sleep(0.005)
        return items

    commit: GroupCommit[int, int] = GroupCommit(
        slow, max_batch=8, max_wait=0.003, max_delay=0.05, depth=depth
    )

    async def client(number: int) -> None:
        for round_ in range(6):
            assert await commit.submit(100 * number + round_) == 100 * number + round_
            await asyncio.sleep(0.002)  # the client posts again

    async def clients() -> None:
        await asyncio.gather(*(client(n) for n in range(16)))

    asyncio.run(clients())
    gaps = [later[0] - earlier[1] for earlier, later in itertools.pairwise(spans[2:])]
    return statistics.median(gaps), sizes


def test_with_depth_2_the_next_batch_waits_ready_while_one_runs() -> None:
    """The capture process is not left waiting for a batch's answers to travel back and the next
    batch to travel in."""
    idle_one, sizes_one = idle_between_batches(depth=1)
    idle_two, sizes_two = idle_between_batches(depth=2)
    assert sum(sizes_one) == sum(sizes_two) == 96
    assert idle_one > 0.009  # the round trip
    assert idle_two < idle_one / 4
