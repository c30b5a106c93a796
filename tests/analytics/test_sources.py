"""Source ROI against the demo company's own ledger, and a source that stops working."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest
from sqlalchemy import select, update

from leadflow.analytics.query.filters import ReportFilter
from leadflow.analytics.sources import sources_report
from leadflow.db import session_scope
from leadflow.models import Lead, Source
from leadflow.settings import Settings
from leadflow.simulate.company import CompanySpec, generate_company
from leadflow.simulate.demo import write_demo
from leadflow.simulate.truth import SOURCES
from tests.conftest import Database

SPEC = CompanySpec(n_leads=12_000, n_reps=10, seed=5, end=date(2026, 10, 1))


def test_costs_revenue_and_roi_follow_from_the_leads(db: Database) -> None:
    company = generate_company(SPEC)
    with session_scope(db.engine) as s:
        write_demo(s, spec=SPEC, settings=Settings())
    with session_scope(db.engine) as s:
        report = sources_report(s, filters=ReportFilter())
    leads = company.leads.with_columns(pl.col("created_at").dt.strftime("%Y-%m").alias("month"))
    expected = leads.group_by("source").agg(
        pl.len().alias("leads"),
        (pl.col("stage") == "won").sum().alias("won"),
        pl.col("amount").filter(pl.col("stage") == "won").sum().alias("revenue"),
        pl.col("month").n_unique().alias("months"),
    )
    costs = {name: (cpl, spend) for name, _channel, _effect, cpl, spend, _share in SOURCES}
    for row in expected.iter_rows(named=True):
        ours = report.table.filter(pl.col("source") == row["source"]).row(0, named=True)
        cpl, spend = costs[row["source"]]
        cost = (cpl or 0.0) * row["leads"] + (spend or 0.0) * row["months"]
        assert ours["leads"] == row["leads"] and ours["won"] == row["won"]
        assert ours["cost"] == pytest.approx(cost) and ours["revenue"] == pytest.approx(row["revenue"])
        if cost > 0:
            assert ours["roi"] == pytest.approx((row["revenue"] - cost) / cost)
            assert ours["cost_per_won"] == pytest.approx(cost / row["won"])
        assert ours["conversion_low"] < ours["conversion"] < ours["conversion_high"]
        assert ours["opportunities"] >= ours["won"]
    assert not report.table["stopped_working"].any()

    # Web form leads of the last three months stop converting: flagged, the others not.
    with session_scope(db.engine) as s:
        web = s.scalars(select(Source.id).where(Source.name == "Web form")).one()
        s.execute(
            update(Lead)
            .where(Lead.source_id == web, Lead.stage == "won", Lead.created_at >= datetime(2026, 7, 1))
            .values(stage="lost", lost_at=Lead.won_at, won_at=None, amount=None)
        )
    with session_scope(db.engine) as s:
        stopped = sources_report(s, filters=ReportFilter()).table.filter("stopped_working")["source"]
    assert stopped.to_list() == ["Web form"]


def test_the_sources_table_speaks_plainly(db: Database) -> None:
    assert db.cli("demo", "--leads", "1500", "--reps", "4", "--seed", "2")[0] == 0
    code, out, err = db.cli("report", "sources")
    assert code == 0, err
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert rows and all(("x the cost" in r) or ("%" in r.split("│")[-3]) or ("no cost" in r) for r in rows)
    assert all(any(t in r for t in ("holding", "too few to tell", "STOPPED WORKING")) for r in rows)
    assert not any("0000%" in r for r in rows)  # no 37571% returns
