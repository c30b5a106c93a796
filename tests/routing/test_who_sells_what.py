"""optimal, with nothing configured, learns from the ledger's closed leads who sells what, and a
lead routed on its own uses what was learned (kept in the routing state for a while)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import numpy as np
from sqlalchemy import select

from leadflow.db import session_scope
from leadflow.models import Lead, Rep, RoutingState
from leadflow.routing.engine import route_leads
from leadflow.settings import Routing, Settings, TeamRouting
from tests.conftest import Database

NOW = datetime(2026, 6, 1, 9, 0)
OPTIMAL = Settings(routing=Routing(default=TeamRouting(policy="optimal", exploration_share=0)))


def specialists(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    """Ann wins 45% of software and 10% of retail; Bo the other way round; 800 closed leads."""
    rng = np.random.default_rng(5)
    header = ["external_id", "created_at", "email", "company", "industry", "stage", "owner", "closed_at"]
    rows = []
    for i in range(800):
        rep, industry = ("ann", "bo")[i % 2], ("software", "retail")[(i // 2) % 2]
        p = 0.45 if (rep, industry) in (("ann", "software"), ("bo", "retail")) else 0.10
        stage = "won" if rng.random() < p else "lost"
        rows.append([f"H{i}", f"2026-0{1 + i % 4}-10", f"h{i}@x{i}.example", f"Old {i}", industry, stage, rep,
                     f"2026-0{1 + i % 4}-25"])  # fmt: skip
    kinds = ("software", "retail")
    rows += [
        [f"N{i}", "2026-05-30", f"n{i}@y{i}.example", f"New {i}", kinds[i % 2], "", "", ""] for i in range(40)
    ]
    reps = [["external_id", "name", "capacity"], ["ann", "Ann", "1000"], ["bo", "Bo", "1000"]]
    assert db.cli("reps", "import", str(write_csv("reps.csv", reps)))[0] == 0
    code, _, err = db.cli("leads", "import", str(write_csv("leads.csv", [header, *rows])))
    assert code == 0, err


def routed(db: Database) -> Counter[tuple[str, str]]:
    with session_scope(db.engine) as s:
        rows = s.execute(
            select(Rep.external_id, Lead.industry)
            .join(Rep, Rep.id == Lead.owner_id)
            .where(Lead.external_id.like("N%"))
        ).all()
    return Counter((r, i) for r, i in rows)


def test_optimal_learns_specialists_nobody_named(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    specialists(db, write_csv)
    with session_scope(db.engine, write=True) as s:
        plan = route_leads(s, settings=OPTIMAL, now=NOW, limit=38, by="test")
        saved = s.get(RoutingState, "affinity")
        assert saved is not None and saved.state["rep_ids"]  # kept for the leads that trickle in
    assert routed(db) == {("ann", "software"): 19, ("bo", "retail"): 19}
    assert all(d.reason.startswith("optimal in every rep") for d in plan.decisions)
    with session_scope(db.engine, write=True) as s:  # the last two, one at a time, from the kept model
        for ext in ("N38", "N39"):
            lead_id = s.scalars(select(Lead.id).where(Lead.external_id == ext)).one()
            route_leads(s, settings=OPTIMAL, lead_ids=[lead_id], now=NOW, by="test")
    assert routed(db) == {("ann", "software"): 20, ("bo", "retail"): 20}
