"""Benchmark: every report on a ledger of 1,000,000 leads on SQLite.

Builds the demo company at that size (a year of leads with activities, stage changes and
outcomes, 200 reps) and times each report service as the CLI, API and dashboard call it.
Targets: each report under 2 s; the dashboard's reports together under 5 s: conversion by
month, the funnel, reps, sources and cohorts, each once and as the dashboard computes them (the
overview page takes conversion by month and the funnel from one pass over the leads). The
profile is timed both ways: as the latest model learned it (a model is trained first if none
kept its counts, and that training is timed) and counted fresh from the ledger. Every report
is timed in several rounds; the figures are the medians, with the fastest and slowest.

    .venv/bin/python bench/report.py                 # 1,000,000 leads
    .venv/bin/python bench/report.py --leads 200000
    .venv/bin/python bench/report.py --db sqlite:////path/to/ledger.db --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from leadflow.analytics.cohorts import cohorts_report
from leadflow.analytics.conversion import conversion_report
from leadflow.analytics.funnel import funnel_report
from leadflow.analytics.overview import overview_report
from leadflow.analytics.partners import partners_report
from leadflow.analytics.profile import profile_report
from leadflow.analytics.query.filters import ReportFilter
from leadflow.analytics.reps import reps_report
from leadflow.analytics.sources import sources_report
from leadflow.db import make_engine, session_scope
from leadflow.migrations.admin import upgrade
from leadflow.models import ScoreModel
from leadflow.scoring.service import train_model
from leadflow.settings import Settings
from leadflow.simulate.company import CompanySpec
from leadflow.simulate.demo import write_demo

END = date(2026, 10, 1)
EVERYTHING = ReportFilter()
DASHBOARD = ("overview page (month, totals, funnel)", "reps", "sources", "cohorts")
PAGES = ("overview page (month, totals, funnel)",)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="time every report this many times")
    parser.add_argument("--db", help="time the reports on this existing database instead of building one")
    args = parser.parse_args()
    reports: dict[str, Callable[[Any], object]] = {
        "conversion by rep": lambda s: conversion_report(s, by=["rep"], filters=EVERYTHING),
        "conversion by month": lambda s: conversion_report(s, by=["month"], filters=EVERYTHING),
        "conversion by territory x source": lambda s: conversion_report(
            s, by=["territory", "source"], filters=EVERYTHING
        ),
        "conversion of one team by month": lambda s: conversion_report(
            s, by=["month"], filters=ReportFilter(team="EMEA team")
        ),
        "funnel": lambda s: funnel_report(s, filters=EVERYTHING),
        "reps": lambda s: reps_report(s, filters=EVERYTHING),
        "sources": lambda s: sources_report(s, filters=EVERYTHING),
        "cohorts": lambda s: cohorts_report(s, filters=EVERYTHING),
        "partners (and the direct reps)": lambda s: partners_report(s, filters=EVERYTHING),
        "overview page (month, totals, funnel)": lambda s: overview_report(s, filters=EVERYTHING),
        "profile (the latest model's counts)": lambda s: profile_report(s),
        "profile (counted fresh)": lambda s: profile_report(s, fresh=True),
    }
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(args.db or f"sqlite:///{Path(tmp) / 'report.db'}")
        upgrade(engine)
        if not args.db:
            started = time.perf_counter()
            with session_scope(engine) as session:
                spec = CompanySpec(n_leads=args.leads, n_reps=args.reps, seed=3, end=END)
                write_demo(session, spec=spec, settings=Settings())
            print(f"built a company of {args.leads:,} leads in {time.perf_counter() - started:.1f} s")
        with session_scope(engine) as session:
            counted = session.scalar(select(func.count()).where(ScoreModel.learned_from.is_not(None)))
        if not counted:
            started = time.perf_counter()
            with session_scope(engine) as session:
                trained = train_model(session)
            took = time.perf_counter() - started
            print(f"trained a model on {trained.n_train + trained.n_test:,} leads in {took:.1f} s")
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
        # rounds, each report once per round: a shared machine's slow spell spreads over them all
        runs: dict[str, list[float]] = {name: [] for name in reports}
        for _ in range(args.rounds):
            for name, report in reports.items():
                with session_scope(engine) as session:
                    started = time.perf_counter()
                    report(session)
                    runs[name].append(time.perf_counter() - started)
        print(f"median of {args.rounds} rounds (fastest-slowest)")
        timings = {name: statistics.median(taken) for name, taken in runs.items()}
        for name, taken in runs.items():
            figure = f"{name:<38} {timings[name]:6.3f} s ({min(taken):.2f}-{max(taken):.2f})"
            if name in PAGES:  # several reports: its share of the dashboard's 5 s, no target of its own
                print(f"{figure}   (one page of the dashboard)")
                continue
            verdict = "met" if timings[name] < 2 else "NOT MET"
            print(f"{figure}   (target under 2 s: {verdict})")
        together = sum(timings[n] for n in DASHBOARD)
        verdict = "met" if together < 5 else "NOT MET"
        print(f"{'dashboard reports together':<38} {together:6.2f} s   (target under 5 s: {verdict})")


if __name__ == "__main__":
    main()
