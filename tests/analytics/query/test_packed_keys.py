"""Group keys packed into one integer for SQLite's sorter: taken apart again exactly, nulls,
negative values and the largest values included, and left as their own columns when packing
them could overflow."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest
from sqlalchemy import BigInteger, literal, select

from leadflow.analytics.query.filters import ReportFilter
from leadflow.analytics.query.packed_keys import LIMIT, Bounded, Packing
from leadflow.analytics.query.states import count_by
from leadflow.db import session_scope
from leadflow.models import Lead, Rep, Territory
from tests.conftest import Database


def test_keys_come_back_as_they_went_in_through_the_database(db: Database) -> None:
    rows = [(None, 0, 7, -5), (3, 1, 0, 0), (9, None, 3, 123_456_789), (0, 0, None, -987_654)]

    def packing(row: tuple[int | None, ...]) -> Packing:
        a, b, c, h = (literal(v, BigInteger) for v in row)
        return Packing(
            bounded=[Bounded("a", a, 0, 10), Bounded("b", b, 0, 2), Bounded("c", c, 0, 8)],
            high=("h", h),
            high_bound=2**28,
        )

    with session_scope(db.engine) as s:
        packed = [s.scalar(select(packing(row).sql())) for row in rows]
    frame = pl.DataFrame({"packed": packed}).select(packing(rows[0]).unpack("packed"))
    assert frame.rows() == rows


def test_a_packing_is_exact_only_while_its_numbers_stay_below_2_to_the_62() -> None:
    packing = Packing(bounded=[Bounded("state", None, 0, 31)], high=("speed", None), high_bound=2**28)
    assert packing.joined(Bounded("month", None, 0, 120_000)).exact
    assert not packing.joined(Bounded("owner_id", None, 0, LIMIT // 2**30)).exact


@pytest.mark.parametrize("big", [False, True])
def test_conversion_by_rep_territory_and_month_counts_right_whatever_the_ids(db: Database, big: bool) -> None:
    """With the largest ids a territory cannot be packed beside the rep, the month and the state
    on SQLite (the product of their bounds passes 2**62): it stays a column of its own."""
    rep_id = territory_id = 2**31 - 1 if big else 7
    with session_scope(db.engine) as s:
        s.add(Territory(id=territory_id, name="EMEA", key="emea"))
        s.add(Rep(id=rep_id, external_id="ann", name="Ann Lee", name_key="annlee", active=True))
        leads = [
            (datetime(2026, 1, 3), "won"), (datetime(2026, 1, 4), "lost"),
            (datetime(2026, 1, 31, 23), "lead"), (datetime(2026, 2, 1), "won"),
        ]  # fmt: skip
        for n, (created, stage) in enumerate(leads):
            s.add(
                Lead(
                    external_id=f"L{n + 1}", company="Acme", stage=stage, owner_id=rep_id,
                    territory_id=territory_id, created_at=created,
                )
            )  # fmt: skip
        s.add(Lead(external_id="L0", company="Bolt", stage="won", created_at=datetime(2025, 12, 9)))
    with session_scope(db.engine) as s:
        frame = count_by(s, by=["rep", "territory", "month"], filters=ReportFilter())
    got = {
        (r["rep"], r["territory"], r["month"]): (r["leads"], r["won"], r["lost"], r["open"])
        for r in frame.iter_rows(named=True)
    }
    assert got == {
        ("Ann Lee", "EMEA", "2026-01"): (3.0, 1.0, 1.0, 1.0),
        ("Ann Lee", "EMEA", "2026-02"): (1.0, 1.0, 0.0, 0.0),
        ("(unassigned)", "(none)", "2025-12"): (1.0, 1.0, 0.0, 0.0),
    }
