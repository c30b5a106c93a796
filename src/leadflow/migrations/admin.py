"""Create or upgrade the database schema with Alembic, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from functools import cache
from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, Index, inspect, text

from leadflow.models import Base


def alembic_config() -> Config:
    """Alembic's configuration pointing at the migrations shipped in the package."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("leadflow") / "migrations"))
    return config


@cache
def head_revision() -> str:
    """The newest schema revision this leadflow ships."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head() or ""


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at; None when it has no leadflow schema."""
    with engine.connect() as connection:
        revision: str | None = MigrationContext.configure(connection).get_current_revision()
        return revision


def upgrade(engine: Engine) -> str:
    """Bring the schema to the newest revision; return that revision."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    restore_indexes(engine)
    return head_revision()


def _indexes(tables: Collection[str], keep: Collection[str] = ()) -> list[Index]:
    found = [index for name in tables for index in Base.metadata.tables[name].indexes]
    return sorted((i for i in found if i.name not in keep), key=lambda i: str(i.name))


def restore_indexes(engine: Engine) -> list[str]:
    """Build every index of the schema that is missing (left by an interrupted bulk load); return
    their names."""
    inspector = inspect(engine)
    built = []
    with engine.begin() as connection:
        for table in Base.metadata.sorted_tables:
            if not inspector.has_table(table.name):
                continue
            present = {i["name"] for i in inspector.get_indexes(table.name)}
            for index in _indexes([table.name]):
                if index.name not in present:
                    index.create(connection)
                    built.append(str(index.name))
    return built


@contextmanager
def indexes_deferred(
    engine: Engine, *, tables: Collection[str], keep: Collection[str] = ()
) -> Iterator[None]:
    """Drop the indexes of ``tables`` (except ``keep``) and build them again on leaving, even after
    an error: for a bulk load, where building an index once from sorted rows is several times
    faster than updating it row by row. Other connections meanwhile read those tables without them.
    Uniqueness constraints stay in force throughout."""
    indexes = _indexes(tables, keep)
    with engine.begin() as connection:
        for index in indexes:
            index.drop(connection, checkfirst=True)
    try:
        yield
    finally:
        with engine.begin() as connection:
            for index in indexes:
                index.create(connection, checkfirst=True)


def drop_all(engine: Engine) -> None:
    """Remove every leadflow table and the migration marker: an empty database."""
    Base.metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
