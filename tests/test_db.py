"""Reading whole tables into frames: every type the ledger stores, as SQLAlchemy would read it."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
from sqlalchemy import select

from leadflow.db import read_frame, session_scope
from leadflow.models import Lead, Rep, RepLoad
from tests.conftest import Database


def test_read_frame_gives_the_values_and_types_the_orm_reads(db: Database) -> None:
    with session_scope(db.engine) as s:
        rep = Rep(external_id="ann", name="Ann", name_key="ann", active=True, capacity=40)
        s.add(rep)
        s.flush()
        s.add_all(
            [
                Lead(
                    external_id="L1", created_at=datetime(2026, 3, 1, 9, 30, 0, 123456), stage="won",
                    self_sourced=True, owner_id=rep.id, amount=1250.5, company_size=40,
                ),
                Lead(external_id="L2", created_at=datetime(2026, 3, 2), stage="inquiry", self_sourced=False),
            ]
        )  # fmt: skip
        s.add(RepLoad(rep_id=rep.id, day=date(2026, 3, 1), issued=3))
    query = select(
        Lead.external_id, Lead.created_at, Lead.stage, Lead.self_sourced, Lead.owner_id, Lead.amount,
        Lead.company_size, Lead.won_at,
    ).order_by(Lead.id)  # fmt: skip
    with session_scope(db.engine) as s:
        frame = read_frame(s, query)
        orm = s.execute(query).all()
        load = read_frame(s, select(RepLoad.day, RepLoad.issued))
    assert frame.schema == pl.Schema(
        {
            "external_id": pl.String, "created_at": pl.Datetime("us"), "stage": pl.String,
            "self_sourced": pl.Boolean, "owner_id": pl.Int64, "amount": pl.Float64,
            "company_size": pl.Int64, "won_at": pl.Datetime("us"),
        }
    )  # fmt: skip
    assert frame.rows() == [tuple(row) for row in orm]
    assert load.rows() == [(date(2026, 3, 1), 3)]
    with session_scope(db.engine) as s:
        empty = read_frame(s, query.where(Lead.stage == "lost"))
    assert empty.is_empty() and empty.schema == frame.schema
