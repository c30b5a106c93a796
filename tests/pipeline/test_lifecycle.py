"""A lead's life: checked stage changes, activities and first touch, outcomes, nurture, reassignment."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from leadflow.db import session_scope
from leadflow.errors import InvalidChange
from leadflow.models import Assignment, Lead, Product, Rep, StageChange, utcnow
from leadflow.pipeline.activities import log_activity
from leadflow.pipeline.assignments import assign_lead
from leadflow.pipeline.outcomes import record_lost, record_nurture, record_won, requeue_due_nurture
from leadflow.pipeline.stages import change_stage
from tests.conftest import Database


def seed(db: Database) -> tuple[int, int, int]:
    """One lead, two reps (the second inactive is added by tests), one product."""
    with session_scope(db.engine) as s:
        ann = Rep(external_id="ann", name="Ann Lee", name_key="annlee", active=True)
        bob = Rep(external_id="bob", name="Bob Roe", name_key="bobroe", active=True)
        lead = Lead(
            external_id="L1", company="Acme", stage="inquiry", created_at=utcnow() - timedelta(days=3)
        )
        s.add_all([ann, bob, lead, Product(name="Pro", key="pro", price=100.0)])
        s.flush()
        return lead.id, ann.id, bob.id


def test_assignment_history_and_stage_path(db: Database) -> None:
    lead_id, ann_id, bob_id = seed(db)
    with session_scope(db.engine) as s:
        lead, ann, bob = s.get(Lead, lead_id), s.get(Rep, ann_id), s.get(Rep, bob_id)
        assert lead and ann and bob
        assign_lead(s, lead=lead, rep=ann, by="manager", reason="territory")
        assert lead.stage == "lead"  # an assigned inquiry becomes a lead
        with pytest.raises(InvalidChange, match="already belongs"):
            assign_lead(s, lead=lead, rep=ann, by="manager", reason="again")
        assign_lead(s, lead=lead, rep=bob, by="manager", reason="Ann is overloaded")
        bob.active = False
        s.flush()
        with pytest.raises(InvalidChange, match="not active"):
            assign_lead(s, lead=lead, rep=bob, by="manager", reason="x")
    with session_scope(db.engine) as s:
        history = s.execute(
            select(Assignment.rep_id, Assignment.reason, Assignment.ended_at).order_by(Assignment.id)
        ).all()
        assert [(h.rep_id, h.reason) for h in history] == [
            (ann_id, "territory"),
            (bob_id, "Ann is overloaded"),
        ]
        assert history[0].ended_at is not None and history[1].ended_at is None
        assert s.get(Lead, lead_id).owner_id == bob_id  # type: ignore[union-attr]


def test_transitions_are_checked_and_outcomes_recorded(db: Database) -> None:
    lead_id, _ann_id, _ = seed(db)
    with session_scope(db.engine) as s:
        lead = s.get(Lead, lead_id)
        assert lead
        with pytest.raises(InvalidChange, match="cannot go from inquiry to opportunity"):
            change_stage(s, lead=lead, to_stage="opportunity", by="ann")
        with pytest.raises(InvalidChange, match="outcome"):
            change_stage(s, lead=lead, to_stage="won", by="ann")
        change_stage(s, lead=lead, to_stage="lead", by="ann")
        change_stage(s, lead=lead, to_stage="qualified", by="ann")
        change_stage(s, lead=lead, to_stage="opportunity", by="ann")
        product = s.scalars(select(Product)).one()
        record_won(s, lead=lead, amount=2500.0, product=product, by="ann")
        assert (lead.stage, lead.amount, lead.product_id) == ("won", 2500.0, product.id)
        with pytest.raises(InvalidChange, match="final"):
            record_lost(s, lead=lead, reason="x", by="ann")
    with session_scope(db.engine) as s:
        path = s.execute(
            select(StageChange.from_stage, StageChange.to_stage)
            .where(StageChange.lead_id == lead_id)
            .order_by(StageChange.id)
        ).all()
        assert [tuple(p) for p in path] == [
            ("inquiry", "lead"),
            ("lead", "qualified"),
            ("qualified", "opportunity"),
            ("opportunity", "won"),
        ]


def test_first_touch_is_the_earliest_contact(db: Database) -> None:
    lead_id, ann_id, _ = seed(db)
    now = utcnow()
    with session_scope(db.engine) as s:
        lead, ann = s.get(Lead, lead_id), s.get(Rep, ann_id)
        assert lead and ann
        log_activity(s, lead=lead, rep=ann, kind="note", note="researching", at=now - timedelta(hours=5))
        assert lead.first_touch_at is None  # a note is not a contact
        log_activity(s, lead=lead, rep=ann, kind="email", outcome="no answer", at=now - timedelta(hours=2))
        log_activity(s, lead=lead, rep=ann, kind="call", outcome="connected", at=now - timedelta(hours=3))
        log_activity(s, lead=lead, rep=ann, kind="call", outcome="connected", at=now - timedelta(hours=1))
        assert lead.first_touch_at == now - timedelta(hours=3)
        with pytest.raises(InvalidChange, match="future"):
            log_activity(s, lead=lead, rep=ann, kind="call", at=now + timedelta(days=1))
        with pytest.raises(InvalidChange, match="unknown activity kind"):
            log_activity(s, lead=lead, rep=ann, kind="fax")


def test_nurtured_lead_reenters_the_queue_when_due(db: Database) -> None:
    lead_id, ann_id, _ = seed(db)
    with session_scope(db.engine) as s:
        lead, ann = s.get(Lead, lead_id), s.get(Rep, ann_id)
        assert lead and ann
        assign_lead(s, lead=lead, rep=ann, by="manager", reason="territory")
        with pytest.raises(InvalidChange, match="future"):
            record_nurture(s, lead=lead, follow_up_at=utcnow() - timedelta(days=1), by="ann")
        record_nurture(
            s, lead=lead, follow_up_at=utcnow() + timedelta(days=30), by="ann", reason="budget next year"
        )
    code, out, _ = db.cli("leads", "requeue")
    assert code == 0 and "0 nurtured leads" in out  # not due yet
    with session_scope(db.engine) as s:
        assert requeue_due_nurture(s, now=utcnow() + timedelta(days=29)) == []
        assert requeue_due_nurture(s, now=utcnow() + timedelta(days=31)) == [lead_id]
    with session_scope(db.engine) as s:
        lead = s.get(Lead, lead_id)
        assert lead and lead.stage == "lead" and lead.owner_id is None and lead.follow_up_at is None
        open_assignments = s.scalar(select(func.count()).where(Assignment.ended_at.is_(None)))
        assert open_assignments == 0


def test_cli_works_a_lead_end_to_end(db: Database) -> None:
    seed(db)
    assert db.cli("assign", "L1", "Ann Lee", "--reason", "territory")[0] == 0
    code, out, err = db.cli("activity", "log", "L1", "--kind", "call", "--outcome", "connected")
    assert code == 0, err
    assert db.cli("stage", "set", "L1", "qualified")[0] == 0
    code, _, err = db.cli("stage", "set", "L1", "won")
    assert code == 1 and "needs its amount" in err
    code, out, err = db.cli("stage", "set", "L1", "won", "--amount", "900", "--product", "PRO")
    assert code == 0, err
    code, out, _ = db.cli("leads", "show", "L1")
    assert "territory" in out and "connected" in out and "qualified" in out
    with session_scope(db.engine) as s:
        lead = s.scalars(select(Lead).where(Lead.external_id == "L1")).one()
        assert lead.stage == "won" and lead.amount == 900 and lead.first_touch_at is not None
        assert isinstance(lead.won_at, datetime)
