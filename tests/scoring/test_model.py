"""Learned win probability: close to the truth on the demo, honest on Maven, never leaking."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score
from sqlalchemy import func, select

from leadflow.db import session_scope
from leadflow.models import Lead, ScoreModel
from leadflow.scoring.model import FLOOR, FORBIDDEN, WinModel, feature_frame
from leadflow.scoring.service import NotEnoughHistory, explain_lead, latest_model, score_frame, train_model
from leadflow.settings import Settings
from leadflow.simulate.company import CompanySpec, generate_company
from leadflow.simulate.demo import write_demo
from tests.conftest import MAVEN, Database, needs_maven

SPEC = CompanySpec(n_leads=40_000, seed=21, end=date(2026, 9, 1))


def test_model_matches_the_true_lead_probability_on_the_demo(db: Database) -> None:
    company = generate_company(SPEC)
    with session_scope(db.engine) as s:
        write_demo(s, spec=SPEC, settings=Settings())
    with session_scope(db.engine) as s:
        result = train_model(s, now=datetime(2026, 9, 1))
        ids = dict(s.execute(select(Lead.id, Lead.external_id)).all())
    index = np.array([int(ids[i].split("-")[1]) for i in result.holdout_ids])
    won = (company.leads["stage"].to_numpy()[index] == "won").astype(int)
    truth_auc = roc_auc_score(won, company.truth["p_lead"][index])
    model = result.metrics["model"]
    assert abs(model["auc"] - truth_auc) < 0.02, (model["auc"], truth_auc)
    assert model["calibration_error"] < 0.03
    assert model["auc"] > result.metrics["baseline"]["auc"] + 0.05  # beats win rate by source
    with session_scope(db.engine) as s:
        probabilities = s.scalars(
            select(Lead.win_probability).where(Lead.stage.not_in(["won", "lost"]))
        ).all()
    assert all(p is None for p in probabilities)  # nothing is scored before `score` runs


@needs_maven
def test_maven_model_is_honest_about_random_data(db: Database) -> None:
    assert db.cli("leads", "import", "--preset", "maven-crm", str(MAVEN))[0] == 0
    code, out, err = db.cli("score", "--train")
    assert code == 0, err
    assert "holdout metrics" in out
    with session_scope(db.engine) as s:
        metrics = s.scalars(select(ScoreModel.metrics)).one()
        probabilities = s.scalars(select(Lead.win_probability).where(Lead.stage == "opportunity")).all()
    # Attributes barely predict Maven's outcomes: a model far above 0.5 here would be leaking.
    assert 0.4 < metrics["model"]["auc"] < 0.6
    assert all(0 < p < 1 for p in probabilities) and len(probabilities) == 1589


def test_outcome_fields_are_never_features() -> None:
    company = generate_company(CompanySpec(n_leads=3000, seed=2, end=date(2026, 1, 1)))
    leads = company.leads.with_row_index("id")
    frame, categorical, numeric = feature_frame(leads)
    assert not FORBIDDEN.intersection(categorical + numeric + frame.columns)
    extras = leads.with_columns(
        pl.format(
            '{{"seniority": "{}", "stage": "won", "Close Date": "2026-01-01", "amount": 5}}', "seniority"
        ).alias("extra")
    )
    _, categorical, numeric = feature_frame(extras)
    assert "extra.seniority" in categorical
    assert not [
        c for c in categorical + numeric if c.lower() in ("extra.stage", "extra.close date", "extra.amount")
    ]


def test_predictions_ignore_outcome_fields_and_stay_off_the_bounds(db: Database) -> None:
    spec = CompanySpec(n_leads=4000, seed=9, end=date(2026, 1, 1))
    with session_scope(db.engine) as s:
        write_demo(s, spec=spec, settings=Settings())
        train_model(s, now=datetime(2026, 1, 1))
        model = latest_model(s)
    assert model is not None
    leads = (
        generate_company(spec)
        .leads.with_row_index("id")
        .with_columns(pl.format('{{"seniority": "{}"}}', "seniority").alias("extra"))
    )
    scrambled = leads.with_columns(
        pl.lit("won").alias("stage"),
        pl.lit(1e6).alias("amount"),
        pl.lit("why").alias("lost_reason"),
        pl.col("won_at").shuffle(seed=1),
        pl.col("owner").shuffle(seed=2),
    )
    p = score_frame(leads, Settings(), model)["win_probability"].to_numpy()
    q = score_frame(scrambled, Settings(), model)["win_probability"].to_numpy()
    assert np.array_equal(p, q)
    assert p.min() >= 0.001 and p.max() <= 0.999


def test_too_little_history_says_so_and_keeps_the_fit_score(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    rows = [["external_id", "created_at", "stage", "title"]] + [
        [f"L{i}", "2024-01-01", "lost" if i % 2 else "lead", "CTO"] for i in range(50)
    ]
    assert db.cli("leads", "import", str(write_csv("l.csv", rows)))[0] == 0
    with session_scope(db.engine) as s, pytest.raises(NotEnoughHistory, match="at least 200"):
        train_model(s)
    code, out, err = db.cli("score", "--train")
    assert code == 0, err
    assert "no model trained" in out and "fit score" in out
    with session_scope(db.engine) as s:
        assert s.scalar(select(func.count()).select_from(ScoreModel)) == 0
        assert s.scalar(select(func.count()).where(Lead.win_probability.is_not(None))) == 0
        assert s.scalar(select(func.min(Lead.fit_score)).where(Lead.stage == "lead")) == 10.0


def test_model_contributions_add_up_to_the_probability(db: Database) -> None:
    spec = CompanySpec(n_leads=4000, seed=9, end=date(2026, 1, 1))
    with session_scope(db.engine) as s:
        write_demo(s, spec=spec, settings=Settings())
        train_model(s, now=datetime(2026, 1, 1))
        explanation = explain_lead(s, lead_id=17, settings=Settings())
        model = latest_model(s)
    assert model is not None and explanation.win_probability is not None
    estimator = model.estimator
    average = estimator.classifier_.intercept_[0] + estimator.mean_design_ @ estimator.classifier_.coef_[0]
    p = explanation.win_probability
    assert sum(explanation.contributions.values()) == pytest.approx(np.log(p / (1 - p)) - average, abs=0.02)
    assert set(explanation.contributions) == set(estimator.features_)
    assert any("log-odds" in f for f in explanation.for_ + explanation.against)


def test_log_odds_from_the_tables_equal_scikit_learns_design_and_regression() -> None:
    leads = generate_company(CompanySpec(n_leads=6000, seed=4, end=date(2026, 1, 1))).leads
    frame, categorical, numeric = feature_frame(leads)
    row = pl.int_range(pl.len())
    # a few industries too rare to get their own weight (pooled: fewer than 40 leads each)
    frame = frame.with_columns(
        pl.when(row % 97 == 0).then(pl.format("rare {}", row % 7)).otherwise("industry").alias("industry")
    )
    won = (leads["stage"] == "won").to_numpy()
    model = WinModel(categorical, numeric, min_frequency=40).fit(frame, won)
    encoder = model.prep_.named_transformers_["cat"]
    assert any(rare is not None for rare in encoder.infrequent_categories_)  # pooled values occur
    # leads unlike the training ones: unseen and pooled values, missing and extreme numbers
    rare = {
        c: r[0] for c, r in zip(categorical, encoder.infrequent_categories_, strict=True) if r is not None
    }
    odd = (
        frame.head(200)
        .with_columns(
            pl.when(row % 3 == 0).then(pl.lit("never seen")).otherwise(pl.col(c)).alias(c)
            for c in categorical
        )
        .with_columns(
            *(
                pl.when(pl.int_range(pl.len()) % 3 == 1).then(pl.lit(v)).otherwise(pl.col(c)).alias(c)
                for c, v in rare.items()
            ),
            *(  # missing, far above the range fitted, and below it
                pl.when(pl.int_range(pl.len()) % 4 == 0)
                .then(None)
                .when(pl.int_range(pl.len()) % 4 == 1)
                .then(pl.col(c) * 1000)
                .when(pl.int_range(pl.len()) % 4 == 2)
                .then(-5.0)
                .otherwise(pl.col(c))
                .alias(c)
                for c in numeric
            ),
        )
    )
    for X in (frame, odd):
        design = model.prep_.transform(X)
        expected = model.classifier_.decision_function(design)
        np.testing.assert_allclose(model.log_odds(X), expected, rtol=0, atol=1e-9)
        p = np.clip(model.classifier_.predict_proba(design)[:, 1], FLOOR, 1 - FLOOR)
        np.testing.assert_allclose(model.predict_proba(X)[:, 1], p, rtol=0, atol=1e-12)
    # a model kept before the tables and curves were: it makes them on first use
    del model.tables_, model.curves_
    np.testing.assert_allclose(
        model.log_odds(odd), model.classifier_.decision_function(model.prep_.transform(odd)), atol=1e-9
    )
