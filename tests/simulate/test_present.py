"""The demo looks like a team on an ordinary day: nothing after now, a recent queue, capacities
that fit but one, split credit, a partner, a rep away, this month's goals and coaching notes."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest
from sqlalchemy import func, select

from leadflow.analytics.funnel import capacity_report
from leadflow.analytics.partners import partners_report
from leadflow.analytics.query.filters import ReportFilter
from leadflow.analytics.scorecard import scorecard
from leadflow.db import session_scope
from leadflow.models import Absence, Activity, Assignment, CoachingNote, Lead, Rep, StageChange
from leadflow.pipeline.coaching import follow_ups_due
from leadflow.routing.sla import add_working_hours
from leadflow.routing.worklist import work_next
from leadflow.settings import Settings
from leadflow.simulate.channels import DEMO_PARTNER_SHARE, DEMO_SPLIT_SHARE, PARTNER
from leadflow.simulate.company import CompanySpec, generate_company
from leadflow.simulate.demo import write_demo
from leadflow.simulate.present import add_present
from leadflow.web.work import SHOWN
from tests.conftest import Database

NOW = datetime(2026, 12, 2, 15, 30)  # a Wednesday afternoon
SPEC = CompanySpec(
    n_leads=8_000,
    n_reps=8,
    seed=3,
    end=NOW,
    partner_share=DEMO_PARTNER_SHARE,
    split_credit_share=DEMO_SPLIT_SHARE,
    fit_capacity=True,
)


@pytest.fixture(scope="module")
def company():  # type: ignore[no-untyped-def]
    return generate_company(SPEC)


def test_nothing_happens_after_now_and_the_day_has_begun(company) -> None:  # type: ignore[no-untyped-def]
    leads = company.leads
    for column in ("created_at", "assigned_at", "first_touch_at", "won_at", "lost_at"):
        assert leads[column].max() <= NOW, column
    assert company.activities["at"].max() <= NOW
    assert company.stages["at"].max() <= NOW
    assert leads.filter(pl.col("created_at") >= datetime(2026, 12, 2)).height > 0  # leads from this morning
    # an open lead went only as far as the days since its first touch allow
    assert leads.filter(
        pl.col("stage").is_in(["qualified", "opportunity"]) & pl.col("first_touch_at").is_null()
    ).is_empty()


def test_open_leads_are_recent_and_the_untouched_ones_new(company) -> None:  # type: ignore[no-untyped-def]
    leads = company.leads.filter(~pl.col("to_partner"))
    untouched = leads.filter(
        pl.col("first_touch_at").is_null() & ~pl.col("stage").is_in(["won", "lost", "nurture"])
    )
    assert untouched.height > 0
    assert (NOW - untouched["created_at"].min()).days <= 14
    # what nobody worked was cleared once stale: closed as never contacted, or put in nurture
    never = leads.filter(pl.col("lost_reason") == "never contacted")
    assert never.height > 0 and never["first_touch_at"].null_count() == never.height
    nurtured = leads.filter(pl.col("stage") == "nurture")
    assert nurtured.height > 0 and nurtured["first_touch_at"].null_count() == nurtured.height


def test_the_demo_reps_day_has_no_backlog_and_the_team_what_a_manager_sees(db: Database) -> None:
    settings = Settings()
    with session_scope(db.engine) as s:
        write_demo(s, spec=SPEC, settings=settings)
        facts = dict(add_present(s, now=NOW))
    sla = settings.sla
    scale = max(sla.first_touch_hours.values())
    with session_scope(db.engine) as s:
        reps = list(s.scalars(select(Rep).order_by(Rep.id)))
        # every rep's first page: no first touch overdue by more than the SLA's own longest allowance
        due = 0
        for rep in reps:
            page = work_next(s, settings=settings, rep_id=rep.id, now=NOW).head(SHOWN)
            deadlines = page.filter(pl.col("next").is_in(["first touch due", "backlog"]))["due_at"].to_list()
            due += len(deadlines)
            late = [d for d in deadlines if add_working_hours(d, scale, sla.working_hours) < NOW]
            assert not late, (rep.name, late)
        assert due > 0

        capacity = capacity_report(s, filters=ReportFilter())
        assert capacity.filter(pl.col("capacity_use") > 1).height == 1
        assert capacity.filter(pl.col("capacity_use") < 0.5).is_empty()

        credit = s.scalar(select(func.count()).where(Assignment.role == "credit"))
        assert credit and credit > 0
        shared = s.scalars(select(Assignment).where(Assignment.role == "credit")).first()
        owner_share = s.scalar(
            select(Assignment.credit_share).where(
                Assignment.lead_id == shared.lead_id, Assignment.role == "owner"
            )  # type: ignore[union-attr]
        )
        assert owner_share + shared.credit_share == pytest.approx(1.0)  # type: ignore[operator, union-attr]

        partners = partners_report(s, filters=ReportFilter())
        partner = partners.filter(pl.col("name") == PARTNER).row(0, named=True)
        issued = s.scalar(select(func.count()).where(Assignment.partner_id.is_not(None)))
        assert partner["issued"] == issued > 0
        assert 0 < partner["won"] < partner["worked"] < partner["issued"]
        # the distributor's leads are no rep's: no owner, no touch, no activity
        assert not s.scalar(
            select(func.count())
            .select_from(Lead)
            .join(Assignment, Assignment.lead_id == Lead.id)
            .where(
                Assignment.partner_id.is_not(None),
                Lead.owner_id.is_not(None) | Lead.first_touch_at.is_not(None),
            )
        )

        away = list(s.scalars(select(Absence)))
        assert len(away) == 1 and away[0].starts_at < NOW < away[0].ends_at
        assert facts["away this week"] == s.get(Rep, away[0].rep_id).name  # type: ignore[union-attr]

        card = scorecard(s, on=NOW)
        assert card.height == int(facts["goals this month"].replace(",", ""))
        assert card["actual"].null_count() < card.height  # goals on metrics the ledger measures

        notes = list(s.scalars(select(CoachingNote)))
        assert len(notes) == 3 and all(n.at < NOW for n in notes)
        assert len(follow_ups_due(s, on=NOW.date())) == 2  # today's and the overdue one

        assert s.scalar(select(func.max(Activity.at))) <= NOW  # type: ignore[operator]
        assert s.scalar(select(func.max(StageChange.at))) <= NOW  # type: ignore[operator]
