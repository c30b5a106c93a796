"""Engine and session: SQLite (WAL, foreign keys on) as the embedded default, PostgreSQL for scale."""

from __future__ import annotations

import contextlib
import json
import os
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import BindParameter, Connection, Engine, Row, bindparam, create_engine, event, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute, Session, sessionmaker
from sqlalchemy.sql import ColumnElement, Executable, Select, sqltypes
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator

SQLITE_CACHE_KIB = 262_144


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; on SQLite, turn on WAL, foreign keys and a busy timeout for every connection."""
    parsed = make_url(url)
    # a failed statement's message must not carry its rows (names, emails, phones) into a
    # traceback or a log line
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        kwargs.setdefault("connect_args", {"timeout": 30})
        # enough pooled connections for a server's worker threads: opening one costs its pragmas
        if parsed.database and parsed.database != ":memory:":
            kwargs.setdefault("pool_size", 20)
            kwargs.setdefault("max_overflow", 20)
            _create_private(Path(parsed.database))
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **kwargs)


def _create_private(path: Path) -> None:
    """Create a new SQLite file readable by its owner only (0600): it holds people's names, emails
    and phones. SQLite gives its -wal and -shm files the database file's permissions."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # SQLite's default page cache (2 MB) and temporary files on purpose: its GROUP BY sorter takes
    # its memory budget from the page cache, and sorts a million rows twice as fast in small
    # runs merged from (OS-cached) files as in one list in memory. Bulk writes, which update
    # indexes at random, get a larger cache from write_cache().
    # Up to two helper threads sort a large GROUP BY's runs in parallel (docs/performance-log.md).
    cursor.execute("PRAGMA threads=2")
    cursor.close()


@contextmanager
def write_cache(engine: Engine) -> Iterator[None]:
    """Give connections taken from ``engine`` meanwhile a 256 MB page cache (on SQLite).

    For bulk writes (imports, batch routing, rescoring), which update the indexes of a table of a
    million rows at random, faster with those pages in SQLite's own cache (docs/performance-log.md
    has the figures). The connections are closed afterwards, so the reports that
    run next on this engine sort with the default cache again."""
    if not is_sqlite(engine):
        yield
        return

    def enlarge(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")

    event.listen(engine, "checkout", enlarge)
    try:
        yield
    finally:
        event.remove(engine, "checkout", enlarge)
        if engine.url.database not in (None, "", ":memory:"):  # an in-memory database lives in its connection
            engine.dispose()


def is_sqlite(engine_or_session: Engine | Session) -> bool:
    """Whether this engine or session talks to SQLite."""
    bind = engine_or_session.get_bind() if isinstance(engine_or_session, Session) else engine_or_session
    return bind.dialect.name == "sqlite"


_factories: weakref.WeakKeyDictionary[Engine, sessionmaker[Session]] = weakref.WeakKeyDictionary()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """The engine's session factory, whose objects stay readable after commit.

    One per engine, made once: each sessionmaker is a new Session class, and SQLAlchemy sets up
    a new class's event dispatch on its first session, which cost more than the token check of
    an API request."""
    factory = _factories.get(engine)
    if factory is None:
        factory = _factories[engine] = sessionmaker(bind=engine, expire_on_commit=False)
    return factory


@contextmanager
def session_scope(engine: Engine, *, write: bool = False, dry_run: bool = False) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error. Services never commit.
    ``dry_run``: roll back even on success (what the work would do, written nowhere).

    ``write``: the unit will write. On SQLite it then takes the database's one write lock as it
    first uses the database (``BEGIN IMMEDIATE``, waiting up to the busy timeout for another
    writer to finish), so that what it reads before writing (the largest id, a lead's queue row)
    is what it writes against: a transaction that read first and wrote after another writer
    committed would fail instead of waiting its turn. Readers never wait (WAL); PostgreSQL needs
    none of this."""
    session = session_factory(engine)()
    if write and engine.dialect.name == "sqlite":
        # when the session first uses the database, not now: a request's dependencies (its
        # authentication, in a transaction of its own) run before it and may write too
        event.listen(session, "after_begin", _take_write_lock, once=True)
    try:
        yield session
        if dry_run:
            session.rollback()
        else:
            session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _take_write_lock(_session: Session, _transaction: Any, connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def reserve_ids(session: Session, table: str, count: int) -> list[int]:
    """Primary keys for ``count`` new rows, so bulk inserts know their ids without RETURNING.

    PostgreSQL draws them from the table's sequence (safe under concurrency); SQLite continues
    from the largest id, which holds in a ``session_scope(write=True)`` (it has the write lock).
    """
    if count == 0:
        return []
    if is_sqlite(session):
        start = read_rows(session, text(f"SELECT COALESCE(MAX(id), 0) FROM {table}"))[0][0]  # noqa: S608
        return list(range(start + 1, start + 1 + count))
    rows = read_rows(
        session,
        text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
        {"t": table, "n": count},
    )
    return [r[0] for r in rows]


def _placeholder(connection: Connection) -> str:
    """The driver's mark for a parameter: sqlite3's ``?`` or psycopg's ``%s``."""
    return "?" if connection.dialect.paramstyle == "qmark" else "%s"


def bulk_insert(session: Session, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """Insert many rows with one driver-level executemany: the fast path for imports and the demo.

    Values must already be in the driver's form (:func:`driver_rows`): on SQLite, datetimes and
    dates as SQLAlchemy's text (see :func:`_sqlite_datetime`) and JSON as text.
    """
    if not rows:
        return
    connection = session.connection()
    marks = ", ".join([_placeholder(connection)] * len(columns))
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
    with _indexes_rebuilt(connection, table, None, len(rows)):
        connection.exec_driver_sql(sql, rows)


def insert_one(session: Session, table: str, columns: list[str], row: tuple[Any, ...]) -> int:
    """Insert one row given in the driver's form and return its new id: one statement where
    reserving the id first takes two (both databases have RETURNING)."""
    connection = session.connection()
    marks = ", ".join([_placeholder(connection)] * len(columns))
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) RETURNING id"  # noqa: S608
    new_id: int = connection.exec_driver_sql(sql, row).scalar_one()
    return new_id


def bulk_upsert(
    session: Session,
    table: str,
    columns: list[str],
    rows: list[tuple[Any, ...]],
    *,
    key: list[str],
    updates: dict[str, str],
) -> None:
    """Insert many rows; where a row with the same ``key`` exists (another transaction may have
    inserted it since this one read), set ``updates`` instead: column to SQL over the table's
    columns and ``excluded``'s. Our own fixed SQL only: values travel as parameters."""
    if not rows:
        return
    connection = session.connection()
    marks = ", ".join([_placeholder(connection)] * len(columns))
    sets = ", ".join(f"{column} = {value}" for column, value in updates.items())
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) "  # noqa: S608
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets}"
    )
    connection.exec_driver_sql(sql, rows)


def bulk_increment(
    session: Session, table: str, key: list[str], column: str, rows: list[tuple[Any, ...]]
) -> None:
    """Add each row's amount (the key's values, then the amount) to ``column`` of the row with
    that key, inserting the row where there is none: counters kept per key, in one executemany."""
    if not rows:
        return
    connection = session.connection()
    mark = _placeholder(connection)
    names = ", ".join([*key, column])
    marks = ", ".join([mark] * (len(key) + 1))
    sql = (
        f"INSERT INTO {table} ({names}) VALUES ({marks}) "  # noqa: S608
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {column} = {table}.{column} + excluded.{column}"
    )
    connection.exec_driver_sql(sql, rows)


def bulk_update(
    session: Session, table: str, columns: list[str], rows: list[tuple[Any, ...]], *, key: str = "id"
) -> None:
    """Update many rows by ``key``; each row is the new values of ``columns`` followed by the key."""
    if not rows:
        return
    connection = session.connection()
    mark = _placeholder(connection)
    assignments = ", ".join(f"{c} = {mark}" for c in columns)
    sql = f"UPDATE {table} SET {assignments} WHERE {key} = {mark}"  # noqa: S608
    with _indexes_rebuilt(connection, table, columns, len(rows)):
        connection.exec_driver_sql(sql, rows)


# On SQLite, rewriting indexed columns of a large share of a table costs more in index upkeep
# (each row's entries moved at random) than building those indexes again at the end: routing a
# million queued leads rewrote owner and stage in three indexes in 41 s, and in 19 s with the
# indexes dropped and built again; its million assignments went in with their four indexes in
# 6.3-9.0 s, and in 4.3-4.8 s with them built after (docs/performance-log.md).
REBUILD_MIN_ROWS = 50_000
REBUILD_SHARE = 0.2


@contextmanager
def _indexes_rebuilt(
    connection: Connection, table: str, columns: list[str] | None, count: int
) -> Iterator[None]:
    """On SQLite, when ``count`` rows are a large share of ``table``, drop the indexes over
    ``columns`` (None: rows inserted, which enter every index; the unique ones are kept, to refuse
    a duplicate as it comes) while they are written and create them again after, in the same
    transaction (a failure rolls both back; readers keep their snapshot with the indexes).
    PostgreSQL is left alone: dropping an index there locks the table against every reader."""
    if connection.dialect.name != "sqlite" or count < REBUILD_MIN_ROWS:
        yield
        return
    size = connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()  # noqa: S608
    if count < REBUILD_SHARE * size:
        yield
        return
    indexes = connection.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
        (table,),
    ).all()
    dropped = []
    written = set(columns or ())
    for name, create in indexes:
        if columns is None:
            if not create.upper().startswith("CREATE UNIQUE"):
                dropped.append((name, create))
            continue
        over = {row[2] for row in connection.exec_driver_sql(f"PRAGMA index_info('{name}')")}
        # an index over an expression names no column for it: read its definition instead
        if over & written or (None in over and any(c in create for c in written)):
            dropped.append((name, create))
    if dropped and not connection.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        # the driver begins a transaction only before a row is written: without this the drops
        # would be committed at once, whatever becomes of the update
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    for name, _ in dropped:
        connection.exec_driver_sql(f'DROP INDEX "{name}"')
    try:
        yield
    finally:  # a failed statement is undone alone on SQLite: the table is as it was, indexable
        for _, create in dropped:
            connection.exec_driver_sql(create)


def _sqlite_datetime(value: datetime) -> str:
    """A datetime as SQLAlchemy's DateTime stores it on SQLite, ``YYYY-MM-DD HH:MM:SS.ffffff``
    with the microseconds always written: raw inserts must match it exactly, as text is compared
    as text (tests/test_db.py pins it against the ORM's)."""
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_form(column: pl.Series) -> list[Any]:
    """A column's values in the form SQLite takes them: datetimes and dates as SQLAlchemy's text
    (a cast, which writes the microseconds always, as :func:`_sqlite_datetime`), booleans as 0/1.
    Casts, not ``dt.strftime``: a Series' strftime runs a frame context (0.15 ms a column). A
    column of nulls only (most of a new lead's dates) is taken as it is."""
    if column.null_count() == column.len():
        return [None] * column.len()
    dtype = column.dtype
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:  # its wall time, as strftime gave
            column = column.dt.replace_time_zone(None)
        return column.cast(pl.Datetime("us")).cast(pl.String).to_list()
    if isinstance(dtype, pl.Date):
        return column.cast(pl.String).to_list()
    if isinstance(dtype, pl.Boolean):
        return column.cast(pl.Int8).to_list()
    return column.to_list()


def frame_of(columns: Sequence[pl.Series]) -> pl.DataFrame:
    """A frame of these Series (at least one), as ``pl.DataFrame(columns)`` builds it, without
    its checks of each Series in Python: 5 µs against 22 µs for a batch's 48 columns, a cost
    that a capture pays for each frame it assembles, whatever its rows."""
    first, *rest = columns
    return first.to_frame().hstack(rest) if rest else first.to_frame()


def driver_rows(session: Session, frame: pl.DataFrame) -> list[tuple[Any, ...]]:
    """A frame's rows in the form :func:`bulk_insert` needs for this session's database."""
    if is_sqlite(session):
        columns = [_sqlite_form(column) for column in frame.iter_columns()]
    else:
        columns = [column.to_list() for column in frame.iter_columns()]
    # Column lists zipped in C are several times faster than building row tuples one by one.
    return list(zip(*columns, strict=True))


_EPOCH, _MICROSECOND = datetime(1970, 1, 1), timedelta(microseconds=1)


def datetimes(name: str, values: list[datetime | None]) -> pl.Series:
    """A Series of naive datetimes (µs) from Python's: by their microseconds since the epoch, as
    Polars' own conversion costs 90 µs for a capture's few values."""
    micros = [None if v is None else (v.replace(tzinfo=None) - _EPOCH) // _MICROSECOND for v in values]
    return pl.Series(name, micros, dtype=pl.Int64).cast(pl.Datetime("us"))


def driver_datetimes(session: Session, values: list[datetime | None]) -> list[Any]:
    """Datetimes in the form :func:`bulk_insert` needs (see :func:`driver_rows`)."""
    if not is_sqlite(session):
        return values
    return [None if v is None else _sqlite_datetime(v) for v in values]


def driver_value(session: Session, value: Any) -> Any:
    """One value in the form :func:`bulk_insert` needs (see :func:`driver_rows`): for the values
    a whole batch shares, such as the moment it was written."""
    if not is_sqlite(session):
        return value
    if isinstance(value, datetime):
        return _sqlite_datetime(value)
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, bool):
        return int(value)
    return value


@lru_cache(maxsize=256)
def frame_schema(query: Select[*tuple[Any, ...]]) -> dict[str, pl.DataType]:
    """The Polars type of each column a select returns, by its name (label or key); kept for
    the selects built once and run many times a second (a capture's), never changed by callers."""
    schema: dict[str, pl.DataType] = {}
    for column in query.selected_columns:
        kind = column.type
        if isinstance(kind, sqltypes.Boolean):
            dtype: pl.DataType = pl.Boolean()
        elif isinstance(kind, sqltypes.DateTime):
            dtype = pl.Datetime("us")
        elif isinstance(kind, sqltypes.Date):
            dtype = pl.Date()
        elif isinstance(kind, sqltypes.Integer):
            dtype = pl.Int64()
        elif isinstance(kind, sqltypes.Float | sqltypes.Numeric):
            dtype = pl.Float64()
        elif isinstance(kind, sqltypes.String):
            dtype = pl.String()
        else:
            raise TypeError(f"no frame type for column {column.key} of type {kind}")
        schema[str(column.key)] = dtype
    return schema


def read_rows(
    session: Session, query: Executable, parameters: dict[str, Any] | None = None
) -> list[Row[*tuple[Any, ...]]]:
    """Run a Core statement on the session's connection and return its rows.

    For the small reads a capture makes many times a second: the ORM's execution path (its
    compile plugin, events and result wrapping) costs as much again as the statement itself on
    SQLite (91 µs against 48 µs for a read of a few rows). Pending ORM changes are flushed
    first, as the session's own execute would."""
    session.flush()
    return list(session.connection().execute(query, parameters or {}).all())


def read_frame(
    session: Session, query: Select[*tuple[Any, ...]], parameters: dict[str, Any] | None = None
) -> pl.DataFrame:
    """Run a select and return its rows as a frame, each column typed from the select's.

    For reads of whole ledgers: the driver's rows are taken as they come, without SQLAlchemy's
    row objects and per-value conversions, and Polars turns them into typed columns; on SQLite,
    timestamps and dates stay their stored text until Polars parses a whole column. A million
    leads with twenty columns: 7 s instead of 13 s, of which 5 s is SQLite handing them over."""
    result = session.connection().execute(query, parameters or {})
    try:
        rows = result.cursor.fetchall() if result.cursor is not None else []
    finally:
        result.close()
    schema = frame_schema(query)
    if not is_sqlite(session):
        return pl.DataFrame(rows, schema=schema, orient="row")
    # SQLite hands timestamps and dates over as text and booleans as 0 and 1
    stored = {name: _SQLITE_STORED.get(dtype.base_type(), dtype) for name, dtype in schema.items()}
    frame = pl.DataFrame(rows, schema=stored, orient="row")
    if stored == schema:
        return frame
    # column by column, as driver_rows: no frame context to plan for a capture's few rows
    return frame_of([_read_form(column, schema[column.name]) for column in frame.iter_columns()])


def _read_form(column: pl.Series, dtype: pl.DataType) -> pl.Series:
    """A column as SQLite stored it, typed as the select says."""
    if column.dtype == dtype:
        return column
    if dtype.base_type() == pl.Datetime:
        return column.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us").cast(dtype)
    if dtype == pl.Date:
        return column.str.to_date("%Y-%m-%d")
    return column.cast(dtype)


_SQLITE_STORED: dict[Any, pl.DataType] = {
    pl.Datetime: pl.String(),
    pl.Date: pl.String(),
    pl.Boolean: pl.Int8(),
}


class _ValueList(TypeDecorator[list[Any]]):
    """A list of values bound as one parameter: JSON text on SQLite (read back by json_each), an
    array on PostgreSQL."""

    impl = sqltypes.NullType
    cache_ok = True

    def process_bind_param(self, value: list[Any] | None, dialect: Dialect) -> Any:
        values = list(value or ())
        return json.dumps(values) if dialect.name == "sqlite" else values


class _InValues(ColumnElement[Any]):
    """``column IN (values)`` with the values bound as one parameter: see :func:`in_values`."""

    inherit_cache = True
    type = sqltypes.NullType()  # not Boolean: that would be rendered "= 1" on SQLite, past the index
    _traverse_internals = [  # noqa: RUF012 (SQLAlchemy reads it as a class attribute)
        ("column", InternalTraversal.dp_clauseelement),
        ("values", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], values: BindParameter[list[Any]]) -> None:
        self.column, self.values = column, values


def in_values(column: ColumnElement[Any] | QueryableAttribute[Any], name: str) -> ColumnElement[Any]:
    """Whether ``column`` is one of the list bound to parameter ``name``, compiled once.

    An expanding ``IN`` is rendered again on every execution, one mark per value (SQLAlchemy's
    postcompile step: 6 statements of every capture batch). Bound as one value, the statement
    stays as cached: ``IN (SELECT value FROM json_each(?))`` on SQLite, ``= ANY(%s)`` on
    PostgreSQL, each using the column's index as the ``IN`` list did."""
    element = column.__clause_element__() if isinstance(column, QueryableAttribute) else column
    return _InValues(element, bindparam(name, type_=_ValueList()))


@compiles(_InValues)
def _in_json_each(element: _InValues, compiler: SQLCompiler, **kw: Any) -> str:
    column, values = compiler.process(element.column, **kw), compiler.process(element.values, **kw)
    return f"{column} IN (SELECT value FROM json_each({values}))"  # noqa: S608 (compiled, not input)


@compiles(_InValues, "postgresql")
def _any_of_array(element: _InValues, compiler: SQLCompiler, **kw: Any) -> str:
    column, values = compiler.process(element.column, **kw), compiler.process(element.values, **kw)
    return f"{column} = ANY({values})"
