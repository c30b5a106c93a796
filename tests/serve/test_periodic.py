"""Upkeep in the server: due follow-ups re-routed, the SLA swept, once across processes."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from leadflow.db import is_sqlite, session_scope
from leadflow.models import Lead, SlaEvent, utcnow
from leadflow.serve.periodic import LOCK_KEY, upkeep_forever, upkeep_once
from leadflow.settings import Settings, Sla
from tests.conftest import Database

REPS = [["external_id", "name", "territory", "capacity"], ["ann", "Ann", "East", "50"]]


def _setup(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    old = (now - timedelta(days=10)).strftime("%Y-%m-%d %H:%M")
    leads = [["external_id", "created_at", "territory"], ["N1", old, "East"], ["S1", old, "East"]]
    assert db.cli("reps", "import", str(write_csv("r.csv", REPS)))[0] == 0
    assert db.cli("leads", "import", str(write_csv("l.csv", leads)))[0] == 0
    assert db.cli("route")[0] == 0
    tomorrow = (now + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    assert db.cli("stage", "set", "N1", "nurture", "--follow-up", tomorrow)[0] == 0
    with session_scope(db.engine) as s:  # N1's follow-up came due an hour ago; S1 sits untouched
        lead = s.scalars(select(Lead).where(Lead.external_id == "N1")).one()
        lead.follow_up_at = now - timedelta(hours=1)
        assigned = s.scalars(select(Lead).where(Lead.external_id == "S1")).one()
        assigned.assigned_at = now - timedelta(days=9)


def test_a_round_requeues_routes_and_sweeps(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    _setup(db, write_csv)
    settings = Settings(sla=Sla(max_passes=0))
    done = upkeep_once(db.engine, settings)
    assert done is not None and done.requeued == 1 and done.routed == 1
    with session_scope(db.engine) as s:
        nurtured = s.scalars(select(Lead).where(Lead.external_id == "N1")).one()
        assert nurtured.stage == "lead" and nurtured.owner_id is not None
        assert s.scalars(select(SlaEvent)).first() is not None  # S1 was past its deadline


def test_only_the_process_holding_the_lock_runs_a_round(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    if is_sqlite(db.engine):
        pytest.skip("the advisory lock is PostgreSQL's; SQLite serves a single process")
    _setup(db, write_csv)
    with db.engine.connect() as other:  # another server process is in its round
        assert other.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
        assert upkeep_once(db.engine, Settings()) is None
        other.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
        other.commit()
    assert upkeep_once(db.engine, Settings()) is not None


def test_the_timer_keeps_running_rounds(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    _setup(db, write_csv)

    async def run_briefly() -> None:
        task = asyncio.create_task(upkeep_forever(db.engine, Settings(), every_seconds=0.05))
        await asyncio.sleep(0.5)
        task.cancel()

    asyncio.run(run_briefly())
    with session_scope(db.engine) as s:
        assert s.scalars(select(Lead.owner_id).where(Lead.external_id == "N1")).one() is not None
