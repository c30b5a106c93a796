"""A list bound as one parameter matches as IN would; reading whole tables into frames: every
type the ledger stores, as SQLAlchemy would read it; SQLite's page cache: small for reports, large
only for bulk writes; a bulk update of much of a table rebuilds its indexes instead of moving their
entries; private files, no row values in errors."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

import leadflow.db as db_module
from leadflow.db import (
    SQLITE_CACHE_KIB,
    bulk_insert,
    bulk_update,
    driver_rows,
    in_values,
    make_engine,
    read_frame,
    reserve_ids,
    session_scope,
    write_cache,
)
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


def _cache_size(db: Database) -> int:
    with session_scope(db.engine) as s:
        return int(s.execute(text("PRAGMA cache_size")).scalar_one())


def test_only_bulk_writes_get_the_large_sqlite_page_cache(db: Database) -> None:
    if db.kind != "sqlite":
        pytest.skip("page cache pragmas are SQLite's")
    default = _cache_size(db)
    assert default != -SQLITE_CACHE_KIB  # reports sort with SQLite's own default
    with write_cache(db.engine):
        assert _cache_size(db) == -SQLITE_CACHE_KIB
        with db.engine.connect() as other:  # every connection taken meanwhile
            assert other.execute(text("PRAGMA cache_size")).scalar_one() == -SQLITE_CACHE_KIB
    assert _cache_size(db) == default  # pooled connections do not keep it
    with session_scope(db.engine) as s:
        assert s.execute(text("PRAGMA threads")).scalar_one() == 2


def _indexes(db: Database, table: str = "leads") -> dict[str, str]:
    with session_scope(db.engine) as s:
        rows = s.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"), {"t": table}
        )
        return {name: sql for name, sql in rows}


@pytest.fixture
def rebuilding(db: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    """A SQLite ledger whose bulk writes rebuild indexes from 10 rows on (PostgreSQL: skipped)."""
    if db.kind != "sqlite":
        pytest.skip("PostgreSQL's indexes are never dropped: that would lock out readers")
    monkeypatch.setattr(db_module, "REBUILD_MIN_ROWS", 10)
    return db


def test_a_bulk_update_of_much_of_a_table_leaves_its_indexes_as_they_were(rebuilding: Database) -> None:
    db = rebuilding
    before = _indexes(db)
    dropped: list[str] = []
    with session_scope(db.engine) as s:
        rep = Rep(external_id="ann", name="Ann", name_key="ann", active=True, capacity=40)
        s.add(rep)
        s.flush()
        ids = reserve_ids(s, "leads", 40)
        rows = [(i, f"L{i}", "inquiry", 0, "2026-03-01 09:00:00.000000") for i in ids]
        bulk_insert(s, "leads", ["id", "external_id", "stage", "self_sourced", "created_at"], rows)
        s.connection().connection.dbapi_connection.set_trace_callback(  # type: ignore[union-attr]
            lambda sql: dropped.append(sql) if sql.startswith("DROP INDEX") else None
        )
        # 30 of 40 rows: the indexes over owner and stage are dropped and built again
        bulk_update(s, "leads", ["owner_id", "stage"], [(rep.id, "lead", i) for i in ids[:30]])
        s.connection().connection.dbapi_connection.set_trace_callback(None)  # type: ignore[union-attr]
        plan = " ".join(
            str(r) for r in s.execute(text("EXPLAIN QUERY PLAN SELECT id FROM leads WHERE owner_id = 1"))
        )
        owned = s.execute(text("SELECT count(*) FROM leads WHERE owner_id = :r"), {"r": rep.id}).scalar_one()
    assert {sql.split('"')[1] for sql in dropped} == {
        "ix_leads_owner_stage",
        "ix_leads_stage_created",
        "ix_leads_report",
    }
    assert _indexes(db) == before
    assert "ix_leads_" in plan and owned == 30
    with session_scope(db.engine) as s:
        integrity = s.execute(text("PRAGMA integrity_check")).scalar_one()
    assert integrity == "ok"
    # a failing update: the statement is undone, the indexes stay
    with pytest.raises(IntegrityError), session_scope(db.engine) as s:
        bulk_update(s, "leads", ["stage"], [("no such stage", i) for i in ids])
    assert _indexes(db) == before
    with session_scope(db.engine) as s:
        assert s.execute(text("SELECT count(*) FROM leads WHERE stage = 'lead'")).scalar_one() == 30


def test_a_bulk_insert_of_many_rows_builds_its_indexes_after_and_keeps_the_unique_ones(
    rebuilding: Database,
) -> None:
    db = rebuilding
    with session_scope(db.engine) as s:
        s.execute(text("CREATE TABLE calls (n INTEGER, who TEXT)"))
        s.execute(text("CREATE INDEX ix_calls_who ON calls (who)"))
        s.execute(text("CREATE UNIQUE INDEX ux_calls_n ON calls (n)"))

    def insert(rows: list[tuple[int, str]]) -> list[str]:
        dropped: list[str] = []
        with session_scope(db.engine) as s:
            s.connection().connection.dbapi_connection.set_trace_callback(  # type: ignore[union-attr]
                lambda sql: dropped.append(sql.split('"')[1]) if sql.startswith("DROP INDEX") else None
            )
            bulk_insert(s, "calls", ["n", "who"], rows)
        return dropped

    before = _indexes(db, "calls")
    # 40 rows into an empty table: the plain index is built after them; the unique one stays
    assert insert([(n, f"rep{n % 7}") for n in range(40)]) == ["ix_calls_who"]
    assert _indexes(db, "calls") == before
    # 5 rows (under the minimum) and 12 rows into 105 (under a fifth): through the indexes;
    # 60 rows into 45: built after them again
    assert insert([(n, "ann") for n in range(100, 105)]) == []
    assert insert([(n, "ann") for n in range(200, 260)]) == ["ix_calls_who"]
    assert insert([(n, "bob") for n in range(300, 312)]) == []
    # a duplicate among many rows is refused as it comes: nothing of the batch is written
    with pytest.raises(IntegrityError):
        insert([(n, "cy") for n in [*range(400, 440), 5]])
    assert _indexes(db, "calls") == before
    with session_scope(db.engine) as s:
        assert s.execute(text("SELECT count(*) FROM calls")).scalar_one() == 40 + 5 + 60 + 12
        assert s.execute(text("SELECT count(*) FROM calls WHERE who = 'ann'")).scalar_one() == 65
        plan = " ".join(
            str(r) for r in s.execute(text("EXPLAIN QUERY PLAN SELECT n FROM calls WHERE who = 'x'"))
        )
        assert "ix_calls_who" in plan
        assert s.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"


def test_a_new_sqlite_file_is_private_and_errors_carry_no_row_values(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    assert (tmp_path / "new.db").stat().st_mode & 0o777 == 0o600
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (email TEXT UNIQUE)")
        connection.exec_driver_sql("INSERT INTO t VALUES (?)", ("dana@acme.example",))
    try:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (:e)"), {"e": "dana@acme.example"})
    except IntegrityError as exc:
        assert "dana@acme.example" not in str(exc)
    else:
        raise AssertionError("the duplicate was inserted")


@pytest.mark.parametrize(
    "moment",
    [datetime(2026, 3, 1, 9, 30, 0, 123456), datetime(2026, 3, 2), datetime(2026, 3, 2, 23, 59, 59, 1)],
)
def test_bulk_written_datetimes_are_stored_as_the_orm_stores_them(db: Database, moment: datetime) -> None:
    """On SQLite a datetime is text, compared as text: a bulk write (driver_rows) must store the
    very text SQLAlchemy does, whole seconds and time zones included, or range queries miss rows."""
    frame = pl.DataFrame(
        {
            "external_id": ["bulk", "aware"],
            "created_at": [moment, moment],
            "stage": ["inquiry", "inquiry"],
            "self_sourced": [False, True],
        },
        schema={
            "external_id": pl.String,
            "created_at": pl.Datetime("us"),
            "stage": pl.String,
            "self_sourced": pl.Boolean,
        },
    )
    aware = frame.with_columns(pl.col("created_at").dt.replace_time_zone("UTC"))
    with session_scope(db.engine, write=True) as s:
        s.add(Lead(external_id="orm", created_at=moment, stage="inquiry", self_sourced=False))
        bulk_insert(s, "leads", frame.columns, driver_rows(s, frame[:1]))
        bulk_insert(s, "leads", aware.columns, driver_rows(s, aware[1:]))
    with session_scope(db.engine) as s:
        found = s.scalars(
            select(Lead.external_id).where(Lead.created_at == moment).order_by(Lead.external_id)
        )
        assert list(found) == ["aware", "bulk", "orm"]
        flags = {e: f for e, f in s.execute(select(Lead.external_id, Lead.self_sourced)).all()}
    assert flags == {"orm": False, "bulk": False, "aware": True}


HOSTILE = ["plain", "O'Brien", 'say "hi"', "back\\slash", "tab\tnew\nline", "Zoë 東京", "", "%s ?", "[1,2]"]


def test_a_list_bound_as_one_parameter_matches_what_in_matches(db: Database) -> None:
    """in_values is IN with the list bound once (JSON on SQLite, an array on PostgreSQL): the same
    rows for hostile text, for integers, for an empty list, and for values nothing has."""
    with session_scope(db.engine) as s:
        s.add_all(
            [
                Lead(external_id=name, created_at=datetime(2026, 3, 1), stage="inquiry", email_key=f"k{i}")
                for i, name in enumerate(HOSTILE)
            ]
        )
    with session_scope(db.engine) as s:
        by_id = dict(s.execute(select(Lead.external_id, Lead.id)).all())
        for wanted in ([*HOSTILE, "absent", "plain "], HOSTILE[1:4], [], ["absent"]):
            query = select(Lead.external_id).where(in_values(Lead.external_id, "names"))
            found = s.scalars(query, {"names": wanted}).all()
            assert sorted(found) == sorted(set(wanted) & set(HOSTILE))
            assert sorted(found) == sorted(
                s.scalars(select(Lead.external_id).where(Lead.external_id.in_(wanted)))
            )
        ids = [by_id["Zoë 東京"], by_id["plain"], 10**12]
        query = select(Lead.external_id).where(in_values(Lead.id, "ids"))
        assert sorted(s.scalars(query, {"ids": ids})) == ["Zoë 東京", "plain"]
        if db.kind == "sqlite":  # the list is read by the index, as an IN list is, not by a scan
            keys = select(Lead.id).where(in_values(Lead.external_id, "a") | in_values(Lead.email_key, "b"))
            for statement in (query, keys):
                compiled = statement.compile(s.get_bind())
                sql, values = str(compiled), ['["x"]'] * len(compiled.positiontup or ())
                plan = " ".join(
                    str(row)
                    for row in s.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", tuple(values))
                )
                assert "SEARCH leads USING" in plan and "SCAN leads" not in plan, plan
