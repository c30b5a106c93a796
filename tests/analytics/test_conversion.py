"""Conversion by rep, office, product and credit share, checked against independent pandas."""

from __future__ import annotations

import io
from datetime import datetime

import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from leadflow.analytics.conversion import conversion_report, rolled_up
from leadflow.analytics.query.filters import ReportFilter
from leadflow.analytics.reps import reps_report
from leadflow.db import session_scope
from leadflow.routing.engine import route_leads
from leadflow.settings import Routing, Settings, TerritoryRule
from tests.conftest import MAVEN, Database, needs_maven


def pandas_conversion(by: str) -> pd.DataFrame:
    """won / (won + lost) straight from the CSV files, without leadflow."""
    pipeline = pd.read_csv(MAVEN / "sales_pipeline.csv")
    teams = pd.read_csv(MAVEN / "sales_teams.csv")
    pipeline["product"] = pipeline["product"].replace({"GTXPro": "GTX Pro"})
    frame = pipeline.merge(teams, on="sales_agent", how="left")
    column = {"rep": "sales_agent", "territory": "regional_office", "product": "product"}[by]
    counts = (
        frame.assign(won=frame.deal_stage.eq("Won"), lost=frame.deal_stage.eq("Lost"))
        .groupby(column)
        .agg(leads=("opportunity_id", "size"), won=("won", "sum"), lost=("lost", "sum"))
    )
    counts["conversion"] = counts.won / (counts.won + counts.lost)
    return counts.reset_index().rename(columns={column: by}).sort_values(by).reset_index(drop=True)


@needs_maven
def test_maven_conversion_by_rep_office_and_product_equals_pandas(db: Database) -> None:
    assert db.cli("leads", "import", "--preset", "maven-crm", str(MAVEN))[0] == 0
    for by in ("rep", "territory", "product"):
        with session_scope(db.engine) as s:
            ours = pd.DataFrame(conversion_report(s, by=[by], filters=ReportFilter()).to_dicts())
        expected = pandas_conversion(by)
        ours = ours[ours[by].isin(expected[by])].sort_values(by).reset_index(drop=True)
        assert ours[by].tolist() == expected[by].tolist()
        for column in ("leads", "won", "lost"):
            assert ours[column].tolist() == expected[column].astype(float).tolist(), (by, column)
        pd.testing.assert_series_equal(ours["conversion"], expected["conversion"], check_names=False)
        assert (ours.conversion_low < ours.conversion).all() and (
            ours.conversion < ours.conversion_high
        ).all()
    # the CLI gives the same numbers, and filters narrow them
    code, out, err = db.cli(
        "report", "conversion", "--by", "rep", "--territory", "Central", "--format", "csv"
    )
    assert code == 0, err
    central = pl.read_csv(io.StringIO(out))
    teams = pd.read_csv(MAVEN / "sales_teams.csv")
    central_reps = set(teams.loc[teams.regional_office == "Central", "sales_agent"])
    assert set(central["rep"]) <= central_reps and central["leads"].sum() == pytest.approx(
        pandas_conversion("territory").set_index("territory").loc["Central", "leads"]
    )
    assert db.cli("report", "conversion", "--by", "planet")[0] == 2


def test_split_credit_counts_each_rep_by_share(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    reps = [["external_id", "name", "territory"], ["de1", "Dora", "EMEA"], ["us1", "Sam", "Americas"]]
    companies = [["name", "country"], ["Globex", "US"]]
    leads = [["external_id", "created_at", "company", "country"], ["B1", "2026-05-01", "Globex", "DE"]]
    assert db.cli("reps", "import", str(write_csv("r.csv", reps)))[0] == 0
    assert db.cli("companies", "import", str(write_csv("c.csv", companies)))[0] == 0
    assert db.cli("leads", "import", str(write_csv("l.csv", leads)))[0] == 0
    rules = [TerritoryRule(name="EMEA", countries=["DE"]), TerritoryRule(name="Americas", countries=["US"])]
    settings = Settings(routing=Routing(territories=rules, headquarters_share=0.3))
    with session_scope(db.engine) as s:
        route_leads(s, settings=settings, now=datetime(2026, 5, 14), by="test")
    assert db.cli("stage", "set", "B1", "won", "--amount", "1000")[0] == 0
    with session_scope(db.engine) as s:
        by_rep = conversion_report(s, by=["rep"], filters=ReportFilter())
        overall = conversion_report(s, by=[], filters=ReportFilter())
        reps = reps_report(s, filters=ReportFilter()).table
    shares = dict(by_rep.select("rep", "won").iter_rows())
    assert shares == pytest.approx({"Dora": 0.7, "Sam": 0.3})
    assert overall["leads"].to_list() == [1.0] and overall["won"].to_list() == [1.0]
    # the reps report counts by the same shares, in its own pass
    assert dict(reps.select("rep", "won").iter_rows()) == pytest.approx({"Dora": 0.7, "Sam": 0.3})
    assert dict(reps.select("rep", "leads").iter_rows()) == pytest.approx({"Dora": 0.7, "Sam": 0.3})


@needs_maven
def test_a_report_rolled_up_to_fewer_dimensions_equals_that_report(db: Database) -> None:
    assert db.cli("leads", "import", "--preset", "maven-crm", str(MAVEN))[0] == 0
    with session_scope(db.engine) as s:
        by_month = conversion_report(s, by=["month"], filters=ReportFilter())
        overall = conversion_report(s, by=[], filters=ReportFilter())
        by_office_product = conversion_report(s, by=["territory", "product"], filters=ReportFilter())
        by_office = conversion_report(s, by=["territory"], filters=ReportFilter())
    assert by_month.height > overall.height
    assert_frame_equal(rolled_up(by_month, by=[]), overall, check_dtypes=False)
    assert_frame_equal(rolled_up(by_office_product, by=["territory"]), by_office, check_dtypes=False)
