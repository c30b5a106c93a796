"""Upkeep on a timer inside the server, run by one process at a time.

Several server processes may run behind a load balancer; each wakes on the timer, but only the
one that takes a PostgreSQL advisory lock does the round (the others skip it). SQLite serves one
process (its single writer), so there the round simply runs.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Engine

from leadflow.db import is_sqlite, session_scope
from leadflow.ledger.settings_versions import settings_in_force
from leadflow.notify.deliver import DeliveryRound, deliver_due
from leadflow.routing.upkeep import Upkeep, run_upkeep
from leadflow.settings import Settings

LOCK_KEY = 0x1EADF10  # the advisory lock of the upkeep round, the same in every process
log = logging.getLogger("leadflow.upkeep")


def upkeep_once(engine: Engine, settings: Settings, now: datetime | None = None) -> Upkeep | None:
    """Run one round unless another process holds the lock (then None)."""
    if is_sqlite(engine):
        with session_scope(engine, write=True) as session:
            return run_upkeep(session, settings=settings_in_force(session, bootstrap=settings), now=now)
    with engine.connect() as lock:
        if not lock.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY}).scalar():
            return None
        try:
            with session_scope(engine, write=True) as session:
                return run_upkeep(session, settings=settings_in_force(session, bootstrap=settings), now=now)
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
            lock.commit()


async def upkeep_forever(engine: Engine, settings: Settings, every_seconds: float) -> None:
    """Run a round every ``every_seconds`` until cancelled; a failed round is logged, not fatal."""
    while True:
        try:
            done = await asyncio.to_thread(upkeep_once, engine, settings)
            if done is not None:
                log.info(
                    "upkeep: %d requeued, %d routed, %d escalated, %d reassigned",
                    done.requeued, done.routed, len(done.sweep.escalated), len(done.sweep.reassigned),
                )  # fmt: skip
        except Exception:  # the server keeps serving; the next round tries again
            log.exception("upkeep round failed")
        await asyncio.sleep(every_seconds)


def deliver_once(engine: Engine, settings: Settings) -> DeliveryRound:
    """Send the notifications that are due (rows another process is sending are skipped)."""
    with session_scope(engine, write=True) as session:
        return deliver_due(session, settings=settings_in_force(session, bootstrap=settings))


async def deliver_forever(engine: Engine, settings: Settings, every_seconds: float) -> None:
    """Send due notifications every ``every_seconds`` until cancelled."""
    while True:
        try:
            done = await asyncio.to_thread(deliver_once, engine, settings)
            if done.delivered or done.retrying or done.failed:
                log.info(
                    "notifications: %d delivered, %d to retry, %d failed",
                    len(done.delivered), len(done.retrying), len(done.failed),
                )  # fmt: skip
        except Exception:
            log.exception("notification round failed")
        await asyncio.sleep(every_seconds)
