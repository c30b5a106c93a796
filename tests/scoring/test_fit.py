"""Fit score: each criterion's points, engagement decay, grades, configuration, and real signal."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from sqlalchemy import select

from leadflow.db import session_scope
from leadflow.models import Lead
from leadflow.scoring.fit import engagement, fit_breakdown, grade
from leadflow.scoring.service import score_frame
from leadflow.settings import Behaviour, ConfigError, Criterion, Grades, Profile, Settings, load_settings
from leadflow.simulate.company import CompanySpec, generate_company
from tests.conftest import Database

NOW = datetime(2026, 6, 1)


def leads(**columns: list[object]) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    return pl.DataFrame({"id": list(range(1, n + 1)), **columns}, strict=False)


def test_each_operator_adds_its_points_and_unknown_values_never_match() -> None:
    profile = Profile(
        criteria=[
            Criterion(name="software", field="industry", op="eq", value="Software", points=20),
            Criterion(name="warm", field="lead_type", op="in", value=["referral", "event"], points=10),
            Criterion(name="mid-market", field="company_size", op="between", value=[50, 500], points=15),
            Criterion(name="boss", field="title", op="matches", value=r"(?i)\bvp\b", points=10),
            Criterion(name="signs", field="authority", op="is_true", points=25),
            Criterion(name="student", field="industry", op="eq", value="education", points=-30),
            Criterion(name="senior", field="extra.seniority", op="in", value=["vp", "c-level"], points=20),
        ],
        behaviour=Behaviour(points_per_contact=5, cap=15),
    )
    frame = leads(
        industry=["SOFTWARE", "education", None],
        lead_type=["referral", "list", None],
        company_size=[120, 5000, None],
        title=["VP Sales", "Analyst", None],
        authority=[True, False, None],
        extra=['{"seniority": "VP"}', '{"seniority": "Manager"}', None],
        engagement=[10.0, 0.4, None],
    )
    result = fit_breakdown(frame, profile)
    assert result["software"].to_list() == [20, 0, 0]
    assert result["warm"].to_list() == [10, 0, 0]
    assert result["mid-market"].to_list() == [15, 0, 0]
    assert result["boss"].to_list() == [10, 0, 0]
    assert result["signs"].to_list() == [25, 0, 0]
    assert result["senior"].to_list() == [20, 0, 0]
    assert result["behaviour"].to_list() == [15, 2.0, 0]  # capped at 15; 0.4 contacts give 2 points
    # 20 + 10 + 15 + 10 + 25 + 20 + 15 = 115 is clipped to 100; -30 + 2 to 0; nothing known is 0
    assert result["fit_score"].to_list() == [100, 0, 0]


def test_engagement_halves_every_half_life_and_counts_only_positive_contacts() -> None:
    activities = pl.DataFrame(
        {
            "lead_id": [1, 1, 2, 2],
            "at": [NOW, NOW - timedelta(days=30), NOW - timedelta(days=60), NOW],
            "outcome": ["connected", "meeting set", "completed", "no answer"],
        }
    )
    result = dict(engagement(activities, Behaviour(half_life_days=30), now=NOW).iter_rows())
    assert result[1] == pytest.approx(1.5)
    assert result[2] == pytest.approx(0.25)


def test_grades_follow_thresholds_and_bad_config_is_reported(tmp_path: Path) -> None:
    scores = np.array([95.0, 70.0, 69.9, 50.0, 30.0, 29.9, np.nan])
    graded = grade(scores, Grades(fit=(70, 50, 30)))
    assert graded == ["A", "A", "B", "B", "C", "D", None]
    config = tmp_path / "leadflow.toml"
    config.write_text("[grades]\nfit = [30, 50, 70]\n")
    with pytest.raises(ConfigError, match="fall from A to C"):
        load_settings(config)
    config.write_text('[[profile.criteria]]\nname = "x"\nfield = "industry"\nop = "like"\npoints = 5\n')
    with pytest.raises(ConfigError, match=r"profile\.criteria\.0\.op"):
        load_settings(config)


def test_default_profile_finds_real_signal_in_the_demo_company() -> None:
    company = generate_company(CompanySpec(n_leads=20_000, seed=4, end=date(2026, 1, 1)))
    frame = company.leads.with_row_index("id").with_columns(
        pl.format('{{"seniority": "{}"}}', "seniority").alias("extra")
    )
    scores = score_frame(frame, Settings())
    closed = frame.join(scores, on="id").filter(pl.col("stage").is_in(["won", "lost"]))
    won = (closed["stage"] == "won").to_numpy()
    fit = closed["fit_score"].to_numpy()
    # Mann-Whitney AUC: the share of (won, lost) pairs where the won lead has the higher fit.
    ranks = pl.Series(fit).rank().to_numpy()
    auc = (ranks[won].sum() - won.sum() * (won.sum() + 1) / 2) / (won.sum() * (~won).sum())
    assert auc > 0.62
    by_grade = (
        closed.with_columns(pl.Series("won", won)).group_by("grade").agg(pl.col("won").mean()).sort("grade")
    )
    rates = by_grade["won"].to_numpy()
    assert np.all(np.diff(rates) < 0)  # A converts better than B, B than C, C than D


def test_leads_are_scored_on_capture_and_rescored_with_a_new_profile(
    db: Database, write_csv, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    path = write_csv(
        "l.csv",
        [
            ["external_id", "title", "authority", "budget", "need"],
            ["L1", "CTO", "yes", "50,000", "high"],
            ["L2", "Intern", "no", "", "low"],
        ],
    )
    assert db.cli("leads", "import", str(path))[0] == 0
    with session_scope(db.engine) as s:
        scores = dict(s.execute(select(Lead.external_id, Lead.fit_score)).all())
        grades = dict(s.execute(select(Lead.external_id, Lead.grade)).all())
    assert scores == {"L1": 55.0, "L2": 0.0}  # authority 15 + budget 15 + high need 15 + senior title 10
    assert grades == {"L1": "B", "L2": "D"}
    config = tmp_path / "leadflow.toml"
    config.write_text(
        '[[profile.criteria]]\nname = "interns welcome"\nfield = "title"\n'
        'op = "eq"\nvalue = "intern"\npoints = 80\n'
    )
    code, _out, err = db.cli("--config", str(config), "score")
    assert code == 0, err
    story = json.loads(db.cli("--config", str(config), "leads", "show", "L2", "--format", "json")[1])
    assert story["fit"]["fit_score"] == 80.0 and story["fit"]["for_"] == ["interns welcome (+80)"]
    with session_scope(db.engine) as s:
        assert s.scalar(select(Lead.grade).where(Lead.external_id == "L2")) == "A"


def _reference_match(criterion: Criterion) -> pl.Expr:
    """The criteria as frame expressions, an independent reading of each operator to check the
    scorer's own against (it evaluates values, not expressions)."""
    field = criterion.field
    column = (
        pl.col("extra").str.json_path_match(f"$.{field.removeprefix('extra.')}")
        if field.startswith("extra.")
        else pl.col(field)
    )
    text = column.cast(pl.String).str.to_lowercase()
    value = criterion.value
    number = column.cast(pl.Float64, strict=False)
    matched = {
        "eq": lambda: text == str(value).lower(),
        "in": lambda: text.is_in([str(v).lower() for v in value]),  # type: ignore[union-attr]
        "not_in": lambda: column.is_not_null() & ~text.is_in([str(v).lower() for v in value]),  # type: ignore[union-attr]
        "gte": lambda: number >= float(value),  # type: ignore[arg-type]
        "lte": lambda: number <= float(value),  # type: ignore[arg-type]
        "between": lambda: number.is_between(*map(float, value)),  # type: ignore[arg-type]
        "matches": lambda: column.cast(pl.String).str.contains(str(value)),
        "is_true": lambda: text.is_in(["true", "1", "yes"]),
        "is_false": lambda: column.is_not_null() & ~text.is_in(["true", "1", "yes"]),
        "known": lambda: column.is_not_null(),
    }[criterion.op]()
    return matched.fill_null(False)


_words = st.sampled_from(["Software", "software", "EDU", "vp sales", "Head of IT", "yes", "no", "1", ""])


@given(
    rows=st.lists(
        st.tuples(
            st.none() | _words,
            st.none() | st.sampled_from([49, 50, 500, 5000, 5001]) | st.integers(-10, 10_000),
            st.none() | st.sampled_from([1000.5, 1000.0]) | st.floats(-1e6, 1e6, allow_nan=False),
            st.none() | st.booleans(),
            st.none()
            | st.dictionaries(st.sampled_from(["tier", "n"]), st.none() | _words | st.integers(0, 9)),
            st.none() | st.floats(0, 10),
        ),
        min_size=1,
        max_size=12,
    )
)
@settings(max_examples=60, deadline=None)
def test_each_criterion_reads_values_as_an_independent_frame_expression_does(
    rows: list[tuple[object, ...]],
) -> None:
    profile = Profile(
        criteria=[
            Criterion(name="eq", field="industry", op="eq", value="Software", points=20),
            Criterion(name="in", field="industry", op="in", value=["edu", "yes"], points=-7.5),
            Criterion(name="not in", field="industry", op="not_in", value=["software"], points=3),
            Criterion(name="gte", field="company_size", op="gte", value=500, points=10),
            Criterion(name="lte", field="budget", op="lte", value=1000.5, points=4),
            Criterion(name="between", field="company_size", op="between", value=[50, 5000], points=15),
            Criterion(name="matches", field="industry", op="matches", value=r"(?i)\b(vp|head)\b", points=10),
            Criterion(name="true", field="authority", op="is_true", points=25),
            Criterion(name="false", field="authority", op="is_false", points=-5),
            Criterion(name="text true", field="industry", op="is_true", points=2),
            Criterion(name="text false", field="industry", op="is_false", points=-2),
            Criterion(name="known", field="budget", op="known", points=1),
            Criterion(name="extra in", field="extra.tier", op="in", value=["software", "1"], points=6),
            Criterion(name="extra gte", field="extra.n", op="gte", value=4, points=2),
        ],
        behaviour=Behaviour(points_per_contact=5, cap=15),
    )
    frame = pl.DataFrame(
        {
            "id": list(range(len(rows))),
            "industry": [r[0] for r in rows],
            "company_size": [r[1] for r in rows],
            "budget": [r[2] for r in rows],
            "authority": [r[3] for r in rows],
            "extra": [None if r[4] is None else json.dumps(r[4]) for r in rows],
            "engagement": [r[5] for r in rows],
        },
        schema={
            "id": pl.Int64,
            "industry": pl.String,
            "company_size": pl.Int64,
            "budget": pl.Float64,
            "authority": pl.Boolean,
            "extra": pl.String,
            "engagement": pl.Float64,
        },
    )
    points = [
        pl.when(_reference_match(c)).then(pl.lit(c.points)).otherwise(0.0).alias(c.name)
        for c in profile.criteria
    ]
    engaged = (pl.col("engagement").fill_null(0.0) * 5).clip(upper_bound=15).alias("behaviour")
    expected = frame.select("id", *points, engaged).with_columns(
        pl.sum_horizontal(*[c.name for c in profile.criteria], "behaviour")
        .clip(0.0, 100.0)
        .round(1)
        .alias("fit_score")
    )
    assert_frame_equal(fit_breakdown(frame, profile), expected, check_exact=True)
