"""Eight processes routing 10,000 leads at once on PostgreSQL: each lead once, nobody over capacity."""

from __future__ import annotations

import multiprocessing
from datetime import datetime

import pytest
from sqlalchemy import func, select

from leadflow.db import make_engine, session_scope
from leadflow.models import Assignment, Lead, QueuedLead, Rep
from leadflow.routing.engine import route_leads
from leadflow.settings import Settings
from tests.conftest import Database

NOW = datetime(2026, 5, 14, 10, 0)
WORKERS, LEADS, REPS, CAPACITY = 8, 10_000, 8, 1_100


def worker(url: str) -> int:
    engine = make_engine(url)
    assigned = 0
    while True:
        with session_scope(engine) as session:
            plan = route_leads(session, settings=Settings(), limit=250, now=NOW, by="worker")
        assigned += plan.count(None)
        if plan.count(None) == 0:
            engine.dispose()
            return assigned


def test_concurrent_workers_never_issue_a_lead_twice_nor_overfill_a_rep(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    if db.kind != "postgresql":
        pytest.skip("concurrent writers with row locks: a PostgreSQL test (SQLite has a single writer)")
    reps = [["external_id", "name", "territory", "capacity"]] + [
        [f"r{i}", f"Rep {i}", "East", str(CAPACITY)] for i in range(REPS)
    ]
    leads = [["external_id", "created_at", "territory"]] + [
        [f"L{i:05d}", "2026-05-01", "East"] for i in range(LEADS)
    ]
    assert db.cli("reps", "import", str(write_csv("reps.csv", reps)))[0] == 0
    assert db.cli("leads", "import", str(write_csv("leads.csv", leads)))[0] == 0

    with multiprocessing.get_context("spawn").Pool(WORKERS) as pool:
        assigned = pool.map(worker, [db.url] * WORKERS)

    with session_scope(db.engine) as s:
        per_lead = s.execute(select(Assignment.lead_id, func.count()).group_by(Assignment.lead_id)).all()
        per_rep = s.execute(select(Assignment.rep_id, func.count()).group_by(Assignment.rep_id)).all()
        owned = s.scalar(select(func.count()).where(Lead.owner_id.is_not(None)))
        reserve = s.scalar(select(func.count()).where(QueuedLead.kind == "reserve"))
        reps_count = s.scalar(select(func.count()).select_from(Rep))
    assert sum(assigned) == REPS * CAPACITY == owned == len(per_lead)
    assert max(n for _, n in per_lead) == 1  # no lead issued twice
    assert max(n for _, n in per_rep) == CAPACITY and len(per_rep) == reps_count  # nobody past capacity
    assert reserve == LEADS - REPS * CAPACITY  # the rest wait in the reserve, none dropped
    assert sum(1 for a in assigned if a > 0) > 1  # the work really was shared
