"""The updated profile: counts, Wilson intervals and tests match scipy; noise is not 'significant'."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scipy.stats import binomtest, chi2_contingency
from sqlalchemy import select, update

from leadflow.analytics.profile import lift_table, profile_report, suggest_criteria
from leadflow.db import session_scope
from leadflow.models import Lead
from leadflow.scoring.learned_from import value_counts
from leadflow.settings import load_settings
from leadflow.simulate.company import CompanySpec, generate_company
from tests.conftest import MAVEN, Database, needs_maven, write_scored_demo


def test_counts_intervals_and_p_values_match_scipy() -> None:
    frame = pl.DataFrame(
        {
            "a": ["x"] * 400 + ["y"] * 600 + [None] * 50,
            "label": [1] * 160 + [0] * 240 + [1] * 120 + [0] * 480 + [1] * 5 + [0] * 45,
        }
    )
    table = lift_table(value_counts(frame, ["a"]), leads=1050, won=285)
    x = table.filter(pl.col("value") == "x").row(0, named=True)
    assert (x["leads"], x["won"]) == (400, 160)
    assert x["conversion"] == pytest.approx(0.4)
    assert x["lift"] == pytest.approx(0.4 / (285 / 1050))
    interval = binomtest(160, 400).proportion_ci(confidence_level=0.95, method="wilson")
    assert (x["conversion_low"], x["conversion_high"]) == pytest.approx(
        (interval.low, interval.high), abs=1e-9
    )
    chi2 = chi2_contingency([[160, 240], [125, 525]], correction=False)
    assert x["p_value"] == pytest.approx(chi2.pvalue, rel=1e-6)
    unknown = table.filter(pl.col("value") == "(unknown)").row(0, named=True)
    assert unknown["leads"] == 50
    # Benjamini-Hochberg by hand: q_(i) = min over j >= i of p_(j) * m / j
    p = table["p_value"].to_numpy()
    order = np.argsort(p)
    scaled = p[order] * len(p) / np.arange(1, len(p) + 1)
    q = np.minimum.accumulate(scaled[::-1])[::-1]
    assert table["q_value"].to_numpy()[order] == pytest.approx(np.minimum(q, 1))


def test_real_effects_are_found_and_noise_is_not() -> None:
    company = generate_company(CompanySpec(n_leads=30_000, seed=8, end=date(2026, 1, 1)))
    rng = np.random.default_rng(0)
    closed = company.leads.with_columns(
        pl.Series("lucky", rng.integers(0, 12, company.leads.height).astype(str))
    ).filter(pl.col("stage").is_in(["won", "lost"]))
    frame = closed.with_columns((pl.col("stage") == "won").cast(pl.Int8).alias("label"))
    table = lift_table(
        value_counts(frame, ["seniority", "lucky", "source"]),
        leads=frame.height,
        won=int(frame["label"].sum()),
    )
    significant = table.filter("significant")
    assert significant.filter(pl.col("attribute") == "lucky").is_empty()
    c_level = table.filter((pl.col("attribute") == "seniority") & (pl.col("value") == "C-level")).row(
        0, named=True
    )
    assert c_level["significant"] and c_level["lift_low"] > 1
    lists = table.filter(pl.col("value") == "Purchased list").row(0, named=True)
    assert lists["significant"] and lists["lift_high"] < 1
    criteria = {c.name: c.points for c in suggest_criteria(table, [])}
    assert criteria["seniority C-level"] > 0 and criteria["source Purchased list"] < 0
    assert not [name for name in criteria if name.startswith("lucky")]


@needs_maven
def test_profile_report_on_maven_and_writing_the_suggestion(db: Database, tmp_path: Path) -> None:
    assert db.cli("leads", "import", "--preset", "maven-crm", str(MAVEN))[0] == 0
    code, out, err = db.cli("report", "profile", "--all", "--format", "csv")
    assert code == 0, err
    table = pl.read_csv(out.encode())
    assert {"attribute", "value", "leads", "won", "conversion", "lift", "q_value", "significant"} <= set(
        table.columns
    )
    # every attribute splits the same leads: its groups add up to the same total
    assert table.group_by("attribute").agg(pl.col("leads").sum())["leads"].n_unique() == 1
    # Maven's attributes hardly predict its outcomes: little or nothing survives the correction.
    assert table["significant"].sum() <= 2
    config = tmp_path / "leadflow.toml"
    config.write_text("[imports]\nbatch_size = 1000\n")
    code, out, err = db.cli("--config", str(config), "report", "profile", "--write")
    assert code == 0, err
    settings = load_settings(config)
    assert settings.imports.batch_size == 1000  # the rest of the file is kept
    assert len(settings.profile.criteria) == table["significant"].sum()


SPEC = CompanySpec(n_leads=6_000, n_reps=12, seed=5, end=date(2026, 6, 1))


def test_the_profile_is_what_the_latest_model_learned_from_until_asked_fresh(db: Database) -> None:
    write_scored_demo(db, SPEC)
    with session_scope(db.engine) as s:
        stored = profile_report(s)
        fresh = profile_report(s, fresh=True)
    assert stored.model_id is not None and fresh.model_id is None
    assert stored.leads == fresh.leads > 1000 and stored.as_of == fresh.as_of
    # counted at training, it is exactly what counting the same leads now gives
    assert_frame_equal(stored.table, fresh.table, check_row_order=False)
    assert stored.suggested == fresh.suggested
    # the ledger moves on: the stored counts stay the model's, a fresh count sees the change
    with session_scope(db.engine) as s:
        flipped = s.execute(
            update(Lead)
            .where(Lead.stage == "won", Lead.id.in_(select(Lead.id).where(Lead.stage == "won").limit(50)))
            .values(stage="lost")
        ).rowcount
    with session_scope(db.engine) as s:
        again, now = profile_report(s), profile_report(s, fresh=True)
    assert_frame_equal(again.table, stored.table, check_row_order=False)
    assert 0 < stored.base_rate * stored.leads - now.base_rate * now.leads <= flipped
    code, out, _ = db.cli("report", "profile")
    assert code == 0 and f"as model {stored.model_id} learned them" in out
    code, out, _ = db.cli("report", "profile", "--fresh")
    assert code == 0 and "counted now" in out and f"{now.leads:,} leads" in out


def test_writing_the_profile_merges_into_the_users_file(db: Database, tmp_path: Path) -> None:
    write_scored_demo(db, SPEC)
    config = tmp_path / "leadflow.toml"
    mine = (
        "# our profile, reviewed in git\n"
        "[imports]\nbatch_size = 1000  # keep small\n\n"
        "[[profile.criteria]]\n"
        'name = "our rule"\nfield = "industry"\nop = "eq"\nvalue = "software"\npoints = 1.0\n'
    )
    config.write_text(mine)
    code, _out, err = db.cli("--config", str(config), "report", "profile", "--write")
    assert code == 0, err
    text = config.read_text()
    assert text.startswith(mine.split("[[profile")[0])  # comments and layout kept
    criteria = load_settings(config).profile.criteria
    keys = [(c.field, c.op, str(c.value)) for c in criteria]
    assert len(keys) == len(set(keys))  # one criterion per field, test and value
    with session_scope(db.engine) as s:
        table = profile_report(s).table.filter("significant")
    # the user's own rule is kept under its name, with the suggested points if software is significant
    ours = next(c for c in criteria if c.name == "our rule")
    suggested = table.filter((pl.col("attribute") == "industry") & (pl.col("value") == "software"))
    assert ours.points != 1.0 if suggested.height else ours.points == 1.0
    # a value holding exactly the leads of another attribute's (a title and its seniority) is one
    counts = table.select("leads", "won").rows()
    written = [c for c in criteria if c.name != "our rule"]
    assert len(written) <= len(set(counts))
    again = db.cli("--config", str(config), "report", "profile", "--write")[1]
    assert "0 criteria added, 0 given new points" in again and config.read_text() == text
