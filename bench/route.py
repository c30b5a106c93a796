"""Benchmark: batch `optimal` routing of N leads over M reps with capacities, and real-time routing.

Prints the time of the whole batch on SQLite (queue, estimates, solve, decisions, writes), the
solve alone, and the median and 95th percentile time to route one new lead. Targets: 1,000,000
leads over 1,000 reps under 60 s end to end, the solve under 10 s, one lead under 20 ms (median).

    .venv/bin/python bench/route.py                          # 1,000,000 leads, 1,000 reps
    .venv/bin/python bench/route.py --leads 100000 --reps 200
    .venv/bin/python bench/route.py --segment-by industry     # rep x industry close rates too
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from sqlalchemy.engine import Engine

import leadflow.routing.choose as choose_module
from leadflow.db import bulk_insert, driver_rows, make_engine, reserve_ids, session_scope, write_cache
from leadflow.migrations.admin import upgrade
from leadflow.models import Rep, Territory, rep_territories
from leadflow.routing.engine import route_leads
from leadflow.settings import Routing, Settings, TeamRouting

NOW = datetime(2026, 5, 14, 10, 0)


INDUSTRIES = ["software", "retail", "finance", "health", "energy", "media", "telecom", "services"]


def build(url: str, leads: int, reps: int, territories: int, history: int) -> None:
    """Reps with capacities in territories, ``history`` leads they closed before this month
    (won or lost, at rep- and industry-dependent rates), and ``leads`` new leads queued."""
    engine = make_engine(url)
    upgrade(engine)
    rng = np.random.default_rng(1)
    with session_scope(engine) as session:
        places = [Territory(name=f"T{t}", key=f"t{t}") for t in range(territories)]
        session.add_all(places)
        session.flush()
        people = [
            Rep(
                external_id=f"r{i}",
                name=f"Rep {i}",
                name_key=f"rep{i}",
                capacity=int(rng.integers(800, 1400)),
                active=True,
            )
            for i in range(reps)
        ]
        session.add_all(people)
        session.flush()
        session.execute(
            rep_territories.insert(),
            [{"rep_id": r.id, "territory_id": places[i % territories].id} for i, r in enumerate(people)],
        )
        ids = reserve_ids(session, "leads", leads)
        frame = pl.DataFrame(
            {
                "id": ids,
                "external_id": [f"L{i}" for i in range(leads)],
                "created_at": [NOW] * leads,
                "stage": ["inquiry"] * leads,
                "self_sourced": [False] * leads,
                "territory_id": [places[i % territories].id for i in range(leads)],
                "win_probability": np.round(rng.beta(2, 12, leads), 4),
                "industry": [INDUSTRIES[i % len(INDUSTRIES)] for i in range(leads)],
            },
            schema_overrides={"created_at": pl.Datetime("us")},
        )
        bulk_insert(session, "leads", frame.columns, driver_rows(session, frame))
        if history:
            rep_ids = np.array([r.id for r in people])
            owner = rng.integers(0, reps, history)
            industry = rng.integers(0, len(INDUSTRIES), history)
            skill = rng.normal(0, 0.4, reps)
            knack = rng.normal(0, 0.4, (reps, len(INDUSTRIES)))
            won = rng.random(history) < 1 / (1 + np.exp(-(-1.2 + skill[owner] + knack[owner, industry])))
            closed_at = [NOW - timedelta(days=int(d)) for d in rng.integers(20, 365, history)]
            old = pl.DataFrame(
                {
                    "id": reserve_ids(session, "leads", history),
                    "external_id": [f"H{i}" for i in range(history)],
                    "created_at": [NOW - timedelta(days=400)] * history,
                    "stage": np.where(won, "won", "lost").tolist(),
                    "self_sourced": [False] * history,
                    "industry": [INDUSTRIES[i] for i in industry],
                    "owner_id": rep_ids[owner].tolist(),
                    "won_at": [c if w else None for c, w in zip(closed_at, won, strict=True)],
                    "lost_at": [None if w else c for c, w in zip(closed_at, won, strict=True)],
                    "amount": np.where(won, rng.gamma(2.0, 5000.0, history), np.nan).tolist(),
                },
                schema_overrides={
                    "created_at": pl.Datetime("us"),
                    "won_at": pl.Datetime("us"),
                    "lost_at": pl.Datetime("us"),
                },
            ).with_columns(pl.col("amount").fill_nan(None))
            bulk_insert(session, "leads", old.columns, driver_rows(session, old))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=1_000)
    parser.add_argument("--territories", type=int, default=10)
    parser.add_argument("--history", type=int, default=200_000, help="closed leads before this month")
    parser.add_argument("--segment-by", default=None, help="learn rep x segment rates, e.g. industry")
    parser.add_argument("--keep", type=Path, default=None, help="keep the routed ledger in this file")
    parser.add_argument(
        "--reuse", type=Path, default=None, help="time only one-lead routing, on a ledger kept by --keep"
    )
    args = parser.parse_args()
    settings = Settings(routing=Routing(default=TeamRouting(policy="optimal", segment_by=args.segment_by)))
    solve_time = 0.0
    original = choose_module.optimal

    def timed_optimal(*a, **k):  # type: ignore[no-untyped-def]
        nonlocal solve_time
        started = time.perf_counter()
        result = original(*a, **k)
        solve_time += time.perf_counter() - started
        return result

    choose_module.optimal = timed_optimal
    if args.reuse:
        one_lead(make_engine(f"sqlite:///{args.reuse}"), settings)
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'route.db'}"
        started = time.perf_counter()
        build(url, args.leads + 200, args.reps, args.territories, args.history)
        built = time.perf_counter() - started
        print(
            f"built {args.leads:,} queued leads, {args.history:,} closed ones and {args.reps:,} reps "
            f"in {built:.1f} s (segment_by={args.segment_by})"
        )
        engine = make_engine(url)
        started = time.perf_counter()
        with write_cache(engine), session_scope(engine) as session:  # as `leadflow route` does
            plan = route_leads(session, settings=settings, limit=args.leads, now=NOW, by="bench")
        total = time.perf_counter() - started
        print(
            f"batch optimal   : {total:.1f} s end to end for {args.leads:,} leads over {args.reps:,} reps "
            f"({plan.count(None):,} assigned, {plan.count('reserve'):,} to the reserve); target under 60 s"
        )
        print(f"solve alone     : {solve_time:.2f} s (target under 10 s)")
        if args.keep:  # before the one-lead runs, so that a kept ledger still has their 200 leads queued
            engine.dispose()
            shutil.copy(Path(tmp) / "route.db", args.keep)
        one_lead(engine, settings)


def one_lead(engine: Engine, settings: Settings) -> None:
    """Route 200 queued leads one at a time, each in its own transaction, as captures do."""
    single = []
    with engine.connect() as connection:
        remaining = [
            r[0] for r in connection.exec_driver_sql("SELECT id FROM leads WHERE owner_id IS NULL LIMIT 200")
        ]
    for lead_id in remaining:
        started = time.perf_counter()
        with session_scope(engine) as session:
            route_leads(session, settings=settings, lead_ids=[lead_id], now=NOW, by="bench")
        single.append((time.perf_counter() - started) * 1000)
    print(
        f"one lead        : median {statistics.median(single):.1f} ms, "
        f"95th percentile {np.percentile(single, 95):.1f} ms over {len(single)} leads "
        "(target median under 20 ms)"
    )


if __name__ == "__main__":
    main()
