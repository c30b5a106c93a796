"""Benchmark: rescore 1,000,000 leads in bulk.

Prints leads/s for the model's prediction step alone (features built from a frame, calibrated
probabilities out; target above 100,000 leads/s) and the end-to-end time of `leadflow score --all`
on SQLite: read the leads and their activities, fit score, grade, win probability, write back.

    .venv/bin/python bench/score.py              # 1,000,000 leads
    .venv/bin/python bench/score.py --leads 200000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

import polars as pl

from leadflow.db import make_engine, session_scope, write_cache
from leadflow.migrations.admin import upgrade
from leadflow.scoring.model import feature_frame
from leadflow.scoring.service import latest_model, score_leads, train_model
from leadflow.settings import Settings
from leadflow.simulate.company import CompanySpec
from leadflow.simulate.demo import write_demo

END = date(2026, 1, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    args = parser.parse_args()
    settings = Settings()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'score.db'}")
        upgrade(engine)
        started = time.perf_counter()
        with session_scope(engine) as session:
            write_demo(
                session, spec=CompanySpec(n_leads=args.leads, n_reps=200, seed=3, end=END), settings=settings
            )
        print(f"demo company of {args.leads:,} leads written in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        with session_scope(engine) as session:
            result = train_model(session, now=datetime(END.year, END.month, END.day))
        print(
            f"trained on {result.n_train:,} leads in {time.perf_counter() - started:.1f} s; "
            f"holdout AUC {result.metrics['model']['auc']:.3f}"
        )
        with session_scope(engine) as session:
            model = latest_model(session)
            rows = session.connection().exec_driver_sql(
                "SELECT l.id, industry, country, region, lead_type, need, timeline, title, authority, "
                "company_size, annual_revenue, budget, s.name AS source, extra "
                "FROM leads l LEFT JOIN sources s ON s.id = l.source_id"
            )
            leads = pl.DataFrame(
                rows.fetchall(), schema=list(rows.keys()), orient="row", infer_schema_length=None
            )
        assert model is not None
        expected = (list(model.estimator.categorical or []), list(model.estimator.numeric or []))
        started = time.perf_counter()
        features, _, _ = feature_frame(leads, model.extra_keys, expected)
        probabilities = model.estimator.predict_proba(features)[:, 1]
        predict = time.perf_counter() - started
        print(
            f"prediction step : {len(probabilities) / predict:>10,.0f} leads/s ({predict:.2f} s for "
            f"{len(probabilities):,}; target above 100,000 leads/s)"
        )
        started = time.perf_counter()
        with write_cache(engine), session_scope(engine) as session:  # as `leadflow score` does
            count = score_leads(session, settings=settings, include_closed=True, now=datetime(2026, 1, 1))
        total = time.perf_counter() - started
        print(
            f"end to end      : {count / total:>10,.0f} leads/s "
            f"({total:.1f} s to read, score and write {count:,})"
        )


if __name__ == "__main__":
    main()
