"""The reports' numbers (touch_seconds, closed_days, created_month) that the database keeps from
each lead's dates on every write (migrations 0017 and 0019), and whether it was ever an
opportunity (was_opportunity, from its stage changes, migration 0018): checked against the dates
and stage changes themselves, for a bulk-written ledger and along one lead's life through the
pipeline's services."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import polars as pl
from sqlalchemy import select, update

from leadflow.analytics.funnel import funnel_report
from leadflow.analytics.query.filters import ReportFilter
from leadflow.analytics.sources import sources_report
from leadflow.db import read_frame, session_scope
from leadflow.ledger.numbers import created_month
from leadflow.models import Lead, Product, Rep, Source, StageChange
from leadflow.pipeline.activities import log_activity
from leadflow.pipeline.assignments import assign_lead
from leadflow.pipeline.outcomes import record_lost, record_won
from leadflow.pipeline.stages import change_stage
from leadflow.settings import Settings
from leadflow.simulate.company import CompanySpec
from leadflow.simulate.demo import write_demo
from tests.conftest import Database


def numbers(db: Database, lead_id: int) -> tuple[int | None, int | None]:
    with session_scope(db.engine) as s:
        row = s.execute(select(Lead.touch_seconds, Lead.closed_days).where(Lead.id == lead_id)).one()
        return row.touch_seconds, row.closed_days


def test_a_bulk_written_ledger_has_the_numbers_of_its_dates(db: Database) -> None:
    spec = CompanySpec(n_leads=3_000, n_reps=8, seed=5, end=date(2026, 10, 1))
    with session_scope(db.engine) as s:
        write_demo(s, spec=spec, settings=Settings())
    with session_scope(db.engine) as s:
        leads = read_frame(
            s,
            select(
                Lead.stage, Lead.created_at, Lead.assigned_at, Lead.first_touch_at, Lead.won_at,
                Lead.lost_at, Lead.touch_seconds, Lead.closed_days, Lead.created_month,
            ),
        )  # fmt: skip
    expected_touch = [
        None if touched is None or assigned is None else round((touched - assigned).total_seconds())
        for assigned, touched in zip(leads["assigned_at"], leads["first_touch_at"], strict=True)
    ]
    expected_days = [
        None if end is None else math.floor((end - created).total_seconds() / 86_400)
        for created, end in zip(
            leads["created_at"],
            [won if stage == "won" else lost if stage == "lost" else None
             for stage, won, lost in zip(leads["stage"], leads["won_at"], leads["lost_at"], strict=True)],
            strict=True,
        )
    ]  # fmt: skip
    assert leads["touch_seconds"].to_list() == expected_touch
    assert leads["closed_days"].to_list() == expected_days
    assert leads["created_month"].to_list() == [c.year * 12 + c.month - 1 for c in leads["created_at"]]
    # the demo has leads of every kind: touched, never touched, won, lost and open
    assert sum(t is not None for t in expected_touch) > 1_000
    assert sum(d is not None for d in expected_days) > 300
    assert leads.filter(pl.col("stage") == "won").height > 50


def test_the_numbers_follow_a_lead_through_assignment_touch_reassignment_and_outcome(db: Database) -> None:
    created = datetime(2026, 9, 1, 9, 0)
    with session_scope(db.engine) as s:
        ann = Rep(external_id="ann", name="Ann Lee", name_key="annlee", active=True)
        bob = Rep(external_id="bob", name="Bob Roe", name_key="bobroe", active=True)
        lead = Lead(external_id="L1", company="Acme", stage="inquiry", created_at=created)
        s.add_all([ann, bob, lead, Product(name="Pro", key="pro", price=100.0)])
        s.flush()
        lead_id, ann_id, bob_id = lead.id, ann.id, bob.id
    assert numbers(db, lead_id) == (None, None)

    with session_scope(db.engine) as s:
        lead, ann = s.get(Lead, lead_id), s.get(Rep, ann_id)
        assert lead and ann
        assign_lead(s, lead=lead, rep=ann, by="manager", reason="territory")
        s.execute(update(Lead).where(Lead.id == lead_id).values(assigned_at=created + timedelta(hours=1)))
    assert numbers(db, lead_id) == (None, None)  # assigned, not touched yet

    with session_scope(db.engine) as s:
        lead, ann = s.get(Lead, lead_id), s.get(Rep, ann_id)
        assert lead and ann
        log_activity(
            s, lead=lead, rep=ann, kind="call", at=created + timedelta(hours=3, minutes=30, seconds=20)
        )
    assert numbers(db, lead_id) == (2 * 3600 + 30 * 60 + 20, None)

    with session_scope(db.engine) as s:  # an earlier contact logged late moves the first touch
        lead, ann = s.get(Lead, lead_id), s.get(Rep, ann_id)
        assert lead and ann
        log_activity(s, lead=lead, rep=ann, kind="email", at=created + timedelta(hours=1, seconds=59))
    assert numbers(db, lead_id) == (59, None)

    with session_scope(db.engine) as s:  # given to Bob now: his speed counts from now
        lead, bob = s.get(Lead, lead_id), s.get(Rep, bob_id)
        assert lead and bob
        assign_lead(s, lead=lead, rep=bob, by="manager", reason="Ann is away")
        assigned_at = lead.assigned_at
        touched_at = lead.first_touch_at
        assert assigned_at and touched_at
    assert numbers(db, lead_id) == (round((touched_at - assigned_at).total_seconds()), None)

    with session_scope(db.engine) as s:
        lead = s.get(Lead, lead_id)
        product = s.scalars(select(Product)).one()
        assert lead
        change_stage(s, lead=lead, to_stage="qualified", by="bob")
        change_stage(s, lead=lead, to_stage="opportunity", by="bob")
        record_won(
            s, lead=lead, amount=900.0, product=product, by="bob", at=created + timedelta(days=40, hours=23)
        )
    assert numbers(db, lead_id)[1] == 40


def test_a_lost_lead_counts_days_to_its_lost_date(db: Database) -> None:
    created = datetime(2026, 8, 1, 23, 0)
    with session_scope(db.engine) as s:
        lead = Lead(external_id="L2", company="Bolt", stage="lead", created_at=created)
        s.add(lead)
        s.flush()
        record_lost(s, lead=lead, reason="no budget", by="ann", at=created + timedelta(days=2, hours=1))
        lead_id = lead.id
    assert numbers(db, lead_id) == (None, 2)


def test_a_bulk_written_ledger_marks_exactly_the_leads_that_became_opportunities(db: Database) -> None:
    spec = CompanySpec(n_leads=3_000, n_reps=8, seed=5, end=date(2026, 10, 1))
    with session_scope(db.engine) as s:
        write_demo(s, spec=spec, settings=Settings())
    with session_scope(db.engine) as s:
        marked = set(s.scalars(select(Lead.id).where(Lead.was_opportunity.is_(True))))
        became = set(s.scalars(select(StageChange.lead_id).where(StageChange.to_stage == "opportunity")))
        unmarked = set(s.scalars(select(Lead.id).where(Lead.was_opportunity.is_(False))))
    assert len(became) > 100 and marked == became
    assert not unmarked & became


def test_a_lead_lost_from_opportunity_still_counts_as_an_opportunity_in_the_funnel_and_sources(
    db: Database,
) -> None:
    created = datetime(2026, 9, 1, 9, 0)
    with session_scope(db.engine) as s:
        web = Source(name="Web form", key="webform", channel="inbound")
        lost = Lead(external_id="L3", company="Crisp", stage="lead", created_at=created, source=web)
        never = Lead(external_id="L4", company="Dune", stage="lead", created_at=created, source=web)
        s.add_all([web, lost, never])
        s.flush()
        lost_id = lost.id
        change_stage(s, lead=lost, to_stage="qualified", by="ann")
        change_stage(s, lead=lost, to_stage="opportunity", by="ann")
        record_lost(s, lead=lost, reason="went quiet", by="ann", at=created + timedelta(days=20))
        record_lost(s, lead=never, reason="no budget", by="ann", at=created + timedelta(days=3))
    with session_scope(db.engine) as s:
        assert s.scalar(select(Lead.was_opportunity).where(Lead.id == lost_id)) is True
        assert s.scalar(select(Lead.was_opportunity).where(Lead.id != lost_id)) is False
        stages = {
            row["step"]: row for row in funnel_report(s, filters=ReportFilter()).stages.iter_rows(named=True)
        }
        sources = sources_report(s, filters=ReportFilter()).table.row(0, named=True)
    assert stages["lead to opportunity"]["from"] == 2 and stages["lead to opportunity"]["reached"] == 1
    assert sources["source"] == "Web form" and sources["opportunities"] == 1 and sources["lost"] == 2


def test_the_creation_month_is_kept_for_a_lead_written_one_at_a_time_and_follows_its_date(
    db: Database,
) -> None:
    with session_scope(db.engine) as s:
        lead = Lead(
            external_id="L5", company="Elm", stage="inquiry", created_at=datetime(2026, 12, 31, 23, 59)
        )
        undated = Lead(external_id="L6", company="Fir", stage="inquiry")
        s.add_all([lead, undated])
        s.flush()
        lead_id, undated_id = lead.id, undated.id

    def month(lead_id: int) -> int | None:
        with session_scope(db.engine) as s:
            return s.scalar(select(Lead.created_month).where(Lead.id == lead_id))

    assert month(lead_id) == 2026 * 12 + 11 and month(undated_id) is None
    with session_scope(db.engine) as s:
        s.execute(update(Lead).where(Lead.id == lead_id).values(created_at=datetime(2027, 1, 1, 0, 0)))
        s.execute(update(Lead).where(Lead.id == undated_id).values(created_month=5))  # a wrong number
    assert month(lead_id) == 2027 * 12 and month(undated_id) is None


def test_created_month_is_year_times_twelve_plus_month_less_one_and_null_without_a_date() -> None:
    dates = [
        datetime(1969, 12, 31, 23, 59, 59),
        None,
        datetime(2026, 1, 1),
        datetime(2026, 12, 6, 8, 30),
        datetime(1, 1, 1),
    ]
    got = created_month(pl.Series("created_at", dates, dtype=pl.Datetime("us"))).to_list()
    assert got == [None if d is None else d.year * 12 + d.month - 1 for d in dates]
    whole = created_month(pl.Series("created_at", [d for d in dates if d], dtype=pl.Datetime("us")))
    assert whole.null_count() == 0 and whole.to_list() == [d.year * 12 + d.month - 1 for d in dates if d]
