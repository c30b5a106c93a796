"""One implementation of each rule: the same records through a capture batch (API, forms) and
through a CSV import (then routed) leave identical ledgers: leads, keys, scores, owners,
assignments, stage changes, changes and aliases. Hypothesis draws the records, with duplicates
by email, phone and company, size words, bands and junk that each path must treat alike."""

from __future__ import annotations

import csv
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from leadflow.db import make_engine, session_scope
from leadflow.intake.capture import capture_leads
from leadflow.intake.columns import FileMapping
from leadflow.intake.service import import_batch, open_import
from leadflow.routing.engine import route_leads
from leadflow.settings import Settings
from tests.conftest import Database

NOW = datetime(2026, 11, 30, 15, 0)
REPS = [["external_id", "name", "team", "territory", "capacity"],
        ["ann", "Ann Lee", "East team", "East", "3"], ["eve", "Eve Ng", "East team", "East", "40"],
        ["wes", "Wes Tern", "West team", "West", "40"]]  # fmt: skip
TERRITORIES = [
    {"name": "East", "countries": ["US", "CA"]},
    {"name": "West", "countries": ["GB", "DE", "FR"]},
]
CONFIG = Settings.model_validate(
    {"routing": {"territories": TERRITORIES, "teams": {"East team": {"policy": "round_robin"}}}}
)
FIELDS = [
    "email", "phone", "first_name", "last_name", "company", "domain", "country", "industry",
    "company_size", "budget", "authority", "need", "timeline", "lead_type", "created_at", "title",
]  # fmt: skip

people = st.sampled_from(["ada", "bob", "cy", "di", "ed"])
# Every record is dated: an undated capture is dated by its arrival, an undated file row is left
# undated as the file was (by design, LeadWriter's ``arrived``), the one difference of the two ways.
record = st.fixed_dictionaries(
    {"created_at": st.sampled_from(["2026-11-02", "2026-11-20 09:30", "11/05/2026"])},
    optional={
        "email": people.map(lambda p: f"{p}@acme.example"),
        "phone": st.sampled_from(["+1 415 555 0101", "(415) 555-0101", "+44 20 7946 0018", "n/a"]),
        "first_name": people.map(str.title),
        "last_name": st.sampled_from(["Lovelace", "Byron", "Smith"]),
        "company": st.sampled_from(["Acme", "ACME Inc.", "Globex", "Initech"]),
        "domain": st.sampled_from(["acme.example", "globex.example"]),
        "country": st.sampled_from(["US", "GB", "DE", "JP", "us", "Germany"]),
        "industry": st.sampled_from(["software", "retail", "Software"]),
        "company_size": st.sampled_from(["12", "250", "51-200", "mid-market", "lots", "-3"]),
        "budget": st.sampled_from(["5000", "$25,000", "abc"]),
        "authority": st.sampled_from(["yes", "no", "ja", "maybe"]),
        "need": st.sampled_from(["high", "low"]),
        "timeline": st.sampled_from(["this quarter", "next quarter"]),
        "lead_type": st.sampled_from(["web form", "referral", "carrier pigeon"]),
        "title": st.sampled_from(["VP Sales", "intern"]),
    },
)


def _fresh(template: Path, directory: Path, name: str) -> Engine:
    path = directory / name
    shutil.copy(template, path)
    return make_engine(f"sqlite:///{path}")


def _snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table a lead's intake writes, without the row ids and clocks of the writing itself."""
    lead_columns = (
        "id, external_id, email, email_key, phone, first_name, last_name, company, domain, country, "
        "industry, company_size, budget, authority, need, timeline, lead_type, title, created_at, stage, "
        "owner_id, fit_score, grade, win_probability, extra"
    )
    queries = {
        "leads": f"SELECT {lead_columns} FROM leads ORDER BY id",
        "assignments": "SELECT lead_id, rep_id, policy, reason, credit_share FROM assignments ORDER BY 1, id",
        "stage_changes": "SELECT lead_id, from_stage, to_stage, reason FROM stage_changes ORDER BY 1, id",
        "lead_changes": "SELECT lead_id, field, old_value, new_value FROM lead_changes ORDER BY 1, id",
        "aliases": "SELECT external_id, lead_id, by FROM lead_aliases ORDER BY 1",
        "queue": "SELECT lead_id, kind, reason FROM routing_queue ORDER BY lead_id",
    }  # fmt: skip
    with engine.connect() as connection:
        return {name: [tuple(row) for row in connection.execute(text(sql))] for name, sql in queries.items()}


@given(records=st.lists(record, min_size=1, max_size=8))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_capture_and_an_import_of_the_same_records_leave_the_same_ledger(
    records: list[dict[str, str]], sqlite_template: Path, tmp_path_factory: Any, write_csv: Any
) -> None:
    directory = tmp_path_factory.mktemp("oneway")
    reps = write_csv("reps.csv", REPS)
    engines = {way: _fresh(sqlite_template, directory, f"{way}.db") for way in ("capture", "import")}
    for engine in engines.values():
        assert Database("sqlite", str(engine.url), engine).cli("reps", "import", str(reps))[0] == 0
    feed = directory / "feed.csv"
    with feed.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(FIELDS)
        out.writerows([[r.get(f, "") for f in FIELDS] for r in records])
    with session_scope(engines["capture"]) as s:
        captured = capture_leads(
            s, settings=CONFIG, records=[{k: v for k, v in r.items()} for r in records], channel=feed.name,
            now=NOW,
        )  # fmt: skip
    with session_scope(engines["import"]) as s:
        job = open_import(s, kind="leads", path=feed, mapping=FileMapping(), settings=CONFIG)
        for batch in job.batches():
            import_batch(s, job=job, batch=batch)
        job.reader.close()
        new = [int(i) for (i,) in s.execute(text("SELECT id FROM leads WHERE owner_id IS NULL ORDER BY id"))]
        if new:
            route_leads(s, settings=CONFIG, lead_ids=new, now=NOW, by=feed.name)
    # a capture numbers its records from 1, a file its lines (the header is line 1)
    assert sorted((r.line, r.column, r.severity) for r in captured.rejects) == sorted(
        (r.line - 1, r.column, r.severity) for r in job.summary.rejects
    )
    by_capture, by_import = _snapshot(engines["capture"]), _snapshot(engines["import"])
    for table, rows in by_capture.items():
        assert len(rows) == len(by_import[table]), (table, rows, by_import[table])
        for mine, theirs in zip(rows, by_import[table], strict=True):
            differ = [(i, a, b) for i, (a, b) in enumerate(zip(mine, theirs, strict=True)) if a != b]
            assert not differ, (table, differ)
    for engine in engines.values():
        engine.dispose()
