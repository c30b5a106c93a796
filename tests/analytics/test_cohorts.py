"""Time to close per cohort: the ledger's counts equal pandas' on maven-crm, and the curves are
the Aalen-Johansen estimate (itself checked against lifelines in test_survival)."""

from __future__ import annotations

import re
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from leadflow.analytics.cohorts import cohorts_report
from leadflow.analytics.query.filters import ReportFilter
from leadflow.db import session_scope
from leadflow.stats.survival import aalen_johansen
from tests.conftest import MAVEN, Database, needs_maven


@needs_maven
def test_maven_cohorts_match_an_independent_computation(db: Database) -> None:
    assert db.cli("leads", "import", "--preset", "maven-crm", str(MAVEN))[0] == 0
    with session_scope(db.engine) as s:
        report = cohorts_report(s, filters=ReportFilter())
    pipeline = pd.read_csv(MAVEN / "sales_pipeline.csv", parse_dates=["engage_date", "close_date"])
    dated = pipeline.dropna(subset=["engage_date"])
    as_of = max(dated.engage_date.max(), dated.close_date.max())
    assert report.as_of == as_of.to_pydatetime()
    end = dated.close_date.where(dated.deal_stage.isin(["Won", "Lost"]), as_of)
    dated = dated.assign(
        days=(end - dated.engage_date).dt.days, cohort=dated.engage_date.dt.strftime("%Y-%m")
    )
    horizons = np.array([round(h * 30.44) for h in report.horizons], dtype=float)
    for cohort, part in [*dated.groupby("cohort"), ("all", dated)]:
        row = report.table.filter(report.table["cohort"] == cohort).row(0, named=True)
        assert row["won"] == (part.deal_stage == "Won").sum() and row["leads"] == len(part)
        assert row["open"] == (~part.deal_stage.isin(["Won", "Lost"])).sum()
        curve = aalen_johansen(
            part.days.to_numpy(),
            (part.deal_stage == "Won").to_numpy(),
            (part.deal_stage == "Lost").to_numpy(),
            (~part.deal_stage.isin(["Won", "Lost"])).to_numpy(),
        )
        won_at, _ = curve.at(horizons)
        ours = np.array([np.nan if row[f"won_{h}m"] is None else row[f"won_{h}m"] for h in report.horizons])
        np.testing.assert_allclose(ours, won_at, atol=1e-9)
    assert re.fullmatch(r"\d+% within 3 months, \d+% within 6, \d+% within 12", report.sentence())
    code, out, err = db.cli("report", "cohorts", "--since", "2017-06-01")
    assert code == 0, err
    assert "2017-05" not in out and "2017-06" in out


def test_a_young_ledger_says_it_is_too_early(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    rows = [["external_id", "created_at", "stage"], ["A", "2026-05-01", "lead"], ["B", "2026-05-03", "lead"]]
    assert db.cli("leads", "import", str(write_csv("l.csv", rows)))[0] == 0
    with session_scope(db.engine) as s:
        report = cohorts_report(s, filters=ReportFilter(), as_of=datetime(2026, 6, 1))
    assert report.sentence().startswith("too early to tell")
    assert report.table.filter(report.table["cohort"] == "all")["won_1m"].to_list() == [pytest.approx(0.0)]
