"""Both databases through one parametrised fixture: each test gets a fresh, migrated database.

PostgreSQL comes from LEADFLOW_TEST_POSTGRES_URL (a server URL whose user may create databases).
Without it the PostgreSQL half is skipped with that reason, except in CI, where it fails.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from leadflow.cli import app
from leadflow.db import make_engine, session_scope
from leadflow.migrations.admin import upgrade
from leadflow.scoring.service import score_leads, train_model
from leadflow.settings import Settings
from leadflow.simulate.company import CompanySpec
from leadflow.simulate.demo import write_demo

MAVEN = Path(__file__).resolve().parents[2] / "shared" / "data" / "maven-crm"
needs_maven = pytest.mark.skipif(not MAVEN.is_dir(), reason=f"reference data missing at {MAVEN}")
PG_ENV = "LEADFLOW_TEST_POSTGRES_URL"


@dataclass
class Database:
    """A fresh, migrated database for one test."""

    kind: str
    url: str
    engine: Engine

    def cli(self, *args: str) -> tuple[int, str, str]:
        """Run the leadflow CLI on this database; exit code, stdout, stderr."""
        result = CliRunner().invoke(
            app, ["--db", self.url, *args], catch_exceptions=False, env={"COLUMNS": "200"}
        )
        return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_ENV} is not set in CI: .ci/run must start PostgreSQL")
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (e.g. postgresql://user@127.0.0.1:5432/postgres)")
    admin = make_engine(url, isolation_level="AUTOCOMMIT")
    name = f"leadflow_tpl_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    template_url = make_url(url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(template_url)
    upgrade(engine)
    engine.dispose()
    yield name
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh migrated database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        yield Database("sqlite", url, engine)
        engine.dispose()
        return
    template = request.getfixturevalue("postgres_template")
    server = os.environ[PG_ENV]
    admin = make_engine(server, isolation_level="AUTOCOMMIT")
    name = f"leadflow_t_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    yield Database("postgresql", url, engine)
    engine.dispose()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def write_csv(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write rows (first row the header) to a CSV file and return its path."""
    import csv

    def write(name: str, rows: list[list[str]]) -> Path:
        path = tmp_path / name
        with path.open("w", newline="", encoding="utf-8") as out:
            csv.writer(out).writerows(rows)
        return path

    return write


def write_scored_demo(db: Database, spec: CompanySpec) -> None:
    """The demo company in the ledger, a model trained on it, and every lead scored (closed ones
    too), each step in its own transaction as the CLI runs them."""
    with session_scope(db.engine) as s:
        write_demo(s, spec=spec, settings=Settings())
    with session_scope(db.engine) as s:
        train_model(s)
        score_leads(s, settings=Settings(), include_closed=True)
