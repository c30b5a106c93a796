"""Funnel KPIs against the demo company's generated truth."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy import select

from leadflow.analytics.conversion import conversion_report
from leadflow.analytics.funnel import NEVER_WORKED_AFTER, capacity_report, funnel_report
from leadflow.analytics.overview import overview_report
from leadflow.analytics.query.filters import ReportFilter
from leadflow.db import session_scope
from leadflow.models import Assignment, Rep
from leadflow.settings import Settings
from leadflow.simulate.company import CompanySpec, generate_company
from leadflow.simulate.demo import write_demo
from tests.conftest import Database

SPEC = CompanySpec(n_leads=15_000, n_reps=10, seed=8, end=date(2026, 10, 1))


def test_funnel_counts_speed_and_never_worked_match_the_generated_company(db: Database) -> None:
    company = generate_company(SPEC)
    with session_scope(db.engine) as s:
        write_demo(s, spec=SPEC, settings=Settings())
    with session_scope(db.engine) as s:
        report = funnel_report(s, filters=ReportFilter())
    leads = company.leads
    stages = {row["step"]: row for row in report.stages.iter_rows(named=True)}
    won = int((leads["stage"] == "won").sum())
    leads = leads.with_row_index("lead").with_columns(pl.col("lead").cast(pl.Int64))
    became = set(company.stages.filter(pl.col("to_stage") == "opportunity")["lead"])
    now = set(leads.filter(pl.col("stage").is_in(["opportunity", "won"]))["lead"])
    opportunities, reached = len(became), len(became | now)
    assert opportunities > 0 and stages["opportunity to won"]["reached"] == won
    assert stages["lead to opportunity"]["reached"] == reached
    # speed to lead: the buckets hold what the generator drew, and slower converts worse
    cutoff = report.as_of - NEVER_WORKED_AFTER
    assigned = leads.filter(~pl.col("self_sourced") & (pl.col("assigned_at") < cutoff))
    hours = (assigned["first_touch_at"] - assigned["assigned_at"]).dt.total_seconds() / 3600
    assert report.never_worked == hours.is_null().sum() and report.assigned == assigned.height
    under_hour = report.speed.filter(pl.col("speed") == "under 1 hour")["leads"].item()
    assert under_hour == (hours.drop_nulls() < 1).sum()
    ratios = report.speed.filter(pl.col("speed") != "never worked")["conversion"].to_numpy()
    assert ratios[0] > ratios[2] > ratios[3]
    assert report.speed_hours["p50"] == pytest.approx(
        np.floor(np.quantile(hours.drop_nulls().to_numpy(), 0.5)) + 1, abs=1
    )
    # activities per won deal from the generated activities
    won_ids = set(leads.filter(pl.col("stage") == "won")["lead"])
    on_won = company.activities.filter(pl.col("lead").is_in(won_ids))
    assert report.activities_per_won == pytest.approx(on_won.height / won)
    assert report.never_worked_cost is not None and report.never_worked_cost > 0
    code, out, err = db.cli("report", "funnel", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["never_worked"] == report.never_worked
    assert cutoff == report.as_of - timedelta(days=7)


def test_capacity_use_counts_every_lead_issued_to_each_rep_per_month(db: Database) -> None:
    spec = CompanySpec(n_leads=3_000, n_reps=6, seed=3, end=date(2026, 10, 1))
    with session_scope(db.engine) as s:
        write_demo(s, spec=spec, settings=Settings())
    with session_scope(db.engine) as s:
        issued = pl.DataFrame(
            s.execute(
                select(Rep.name, Assignment.at)
                .join(Rep, Rep.id == Assignment.rep_id)
                .where(Assignment.role == "owner")
            ).all(),
            schema={"rep": pl.String, "at": pl.Datetime("us")},
            orient="row",
        )
        periods = [
            ReportFilter(),
            ReportFilter(
                since=datetime(2026, 3, 1), until=datetime(2026, 6, 1)
            ),  # whole days: the daily load
            ReportFilter(since=datetime(2026, 3, 1, 12), until=datetime(2026, 6, 1)),  # not: the assignments
        ]
        for filters in periods:
            report = capacity_report(s, filters=filters).select("rep", "months", "leads")
            start, end = filters.since or datetime.min, filters.until or datetime.max
            expected = (
                issued.filter((pl.col("at") >= start) & (pl.col("at") < end))
                .group_by("rep")
                .agg(pl.col("at").dt.strftime("%Y-%m").n_unique().alias("months"), pl.len().alias("leads"))
                .with_columns(pl.col("months").cast(report["months"].dtype), pl.col("leads").cast(pl.Float64))
            )
            assert expected.height > 0
            assert report.sort("rep").equals(expected.sort("rep")), filters


def test_the_overview_from_one_pass_equals_conversion_by_month_and_the_funnel(db: Database) -> None:
    spec = CompanySpec(n_leads=3_000, n_reps=6, seed=11, end=date(2026, 10, 1))
    with session_scope(db.engine) as s:
        write_demo(s, spec=spec, settings=Settings())
    with session_scope(db.engine) as s:
        overview = overview_report(s, filters=ReportFilter())
        months = conversion_report(s, by=["month"], filters=ReportFilter())
        overall = conversion_report(s, by=[], filters=ReportFilter())
        funnel = funnel_report(s, filters=ReportFilter())
    assert set(months["channel"]) == {"distributed", "self-sourced"} and months["open"].sum() > 0
    assert_frame_equal(overview.months, months, check_dtypes=False)
    assert_frame_equal(overview.totals, overall, check_dtypes=False)
    assert_frame_equal(overview.funnel.stages, funnel.stages)
    assert_frame_equal(overview.funnel.speed, funnel.speed)
    assert overview.funnel.never_worked == funnel.never_worked
    assert overview.funnel.never_worked_cost == pytest.approx(funnel.never_worked_cost, rel=1e-12)


def test_every_funnel_table_comes_out_as_csv_with_whole_counts(db: Database) -> None:
    assert db.cli("demo", "--leads", "1500", "--reps", "4", "--seed", "2")[0] == 0
    tables = {}
    for name in ("stages", "speed", "capacity", "summary"):
        code, out, err = db.cli("report", "funnel", "--format", "csv", "--table", name)
        assert code == 0, err
        tables[name] = list(csv.DictReader(io.StringIO(out)))
    assert [r["step"] for r in tables["stages"]][:2] == ["inquiry to lead", "lead to opportunity"]
    assert tables["stages"][0]["from"].isdigit() and tables["speed"][0]["leads"].isdigit()  # 1500, not 1500.0
    assert {"rep", "capacity", "leads_per_month"} <= set(tables["capacity"][0])
    assert {"never_worked", "activities_per_won", "speed_p50"} <= set(tables["summary"][0])
    for row in tables["stages"]:
        assert (
            0
            <= float(row["conversion_low"])
            <= float(row["conversion"])
            <= float(row["conversion_high"])
            <= 1
        )
    assert db.cli("report", "funnel", "--format", "csv", "--table", "pies")[0] == 2
