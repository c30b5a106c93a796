"""The demo company is seeded and its hidden truth shows in its data."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import polars as pl
from scipy.stats import spearmanr
from sqlalchemy import func, select

from leadflow.db import session_scope
from leadflow.models import Activity, Lead, Rep
from leadflow.simulate.channels import DEMO_PARTNER_SHARE, DEMO_SPLIT_SHARE
from leadflow.simulate.company import CompanySpec, generate_company
from tests.conftest import Database

SPEC = CompanySpec(n_leads=30_000, n_reps=20, seed=11, end=date(2026, 10, 1))


def test_same_seed_same_company() -> None:
    small = CompanySpec(n_leads=2_000, seed=5, end=date(2026, 1, 1))
    assert generate_company(small).leads.equals(generate_company(small).leads)
    other = CompanySpec(n_leads=2_000, seed=6, end=date(2026, 1, 1))
    assert not generate_company(small).leads.equals(generate_company(other).leads)


def test_better_reps_really_close_more_and_late_touch_converts_worse() -> None:
    company = generate_company(SPEC)
    leads = company.leads.with_columns(pl.Series("worked", company.truth["worked"]))
    closed = leads.filter(pl.col("stage").is_in(["won", "lost"]) & pl.col("worked") & ~pl.col("self_sourced"))
    by_rep = closed.group_by("owner").agg((pl.col("stage") == "won").mean().alias("rate")).sort("owner")
    skill = company.truth["skill"][by_rep["owner"].to_numpy()]
    assert spearmanr(skill, by_rep["rate"].to_numpy()).statistic > 0.6

    delay = (closed["first_touch_at"] - closed["assigned_at"]).dt.total_hours().to_numpy()
    won = (closed["stage"] == "won").to_numpy()
    assert won[delay < 2].mean() > won[delay > 24].mean() + 0.03

    # Outcomes follow p_win: among closed leads, the wins' mean probability is clearly higher.
    p = company.truth["p_win"]
    stage = company.leads["stage"].to_numpy()
    assert p[stage == "won"].mean() > p[stage == "lost"].mean() + 0.1
    assert len(company.truth["laggards"]) == SPEC.n_laggards


def test_demo_command_stores_the_generated_company(db: Database) -> None:
    code, _out, err = db.cli(
        "demo", "--leads", "3000", "--reps", "8", "--seed", "3", "--as-of", "2026-11-04 10:15"
    )
    assert code == 0, err
    expected = generate_company(
        CompanySpec(
            n_leads=3000, n_reps=8, seed=3, end=datetime(2026, 11, 4, 10, 15),
            partner_share=DEMO_PARTNER_SHARE, split_credit_share=DEMO_SPLIT_SHARE, fit_capacity=True,
        )
    )  # fmt: skip
    with session_scope(db.engine) as s:
        assert s.scalar(select(func.count()).select_from(Lead)) == 3000
        assert s.scalar(select(func.count()).select_from(Rep)) == 8
        assert s.scalar(select(func.count()).select_from(Activity)) == expected.activities.height
        won = s.scalar(select(func.count()).where(Lead.stage == "won"))
        assert won == int((expected.leads["stage"] == "won").sum())
        untouched_won = s.scalar(
            select(func.count()).where(Lead.stage == "won", Lead.first_touch_at.is_(None))
        )
        assert untouched_won == 0
    assert np.isfinite(expected.truth["p_win"]).all()
