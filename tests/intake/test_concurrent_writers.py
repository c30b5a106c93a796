"""Several processes writing one SQLite ledger at once: importers and a capture take turns, and
none fails (PostgreSQL's writers are tested in tests/routing/test_concurrency.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from leadflow.db import session_scope
from leadflow.models import Lead
from tests.conftest import Database

IMPORTERS, LEADS = 3, 2_000
CAPTURE = """
import sys
from leadflow.db import make_engine, session_scope
from leadflow.intake.capture import capture_leads
from leadflow.settings import Settings
engine = make_engine(sys.argv[1])
for i in range(40):
    with session_scope(engine, write=True) as session:
        capture_leads(session, settings=Settings(), channel="form",
                      records=[{"email": f"c{i}@form{i}.example", "last_name": f"C{i}"}])
"""


def test_importers_and_a_capture_at_once_all_succeed(db: Database, write_csv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if db.kind != "sqlite":
        pytest.skip("SQLite's single writer lock; PostgreSQL's concurrent routers are tested apart")
    files = [
        write_csv(f"l{k}.csv", [["external_id", "email", "company"]]
                  + [[f"K{k}-{i}", f"p{k}x{i}@co{k}.example", f"Co {k}"] for i in range(LEADS)])
        for k in range(IMPORTERS)
    ]  # fmt: skip
    command = [sys.executable, "-c", "from leadflow.cli import run; run()", "--db", db.url]
    running = [subprocess.Popen([*command, "leads", "import", str(f)], stderr=subprocess.PIPE) for f in files]
    running.append(subprocess.Popen([sys.executable, "-c", CAPTURE, db.url], stderr=subprocess.PIPE))
    for process in running:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err.decode()[-2000:]
    with session_scope(db.engine) as s:
        assert s.scalar(select(func.count()).select_from(Lead)) == IMPORTERS * LEADS + 40
