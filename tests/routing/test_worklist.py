"""What a rep works next: first touches by their deadline, then follow-ups due, then the open
leads likeliest to close, then nurture still waiting for its date."""

from __future__ import annotations

from datetime import datetime, timedelta

from leadflow.db import session_scope
from leadflow.intake.capture import capture_leads
from leadflow.ledger.find import find_lead, find_rep
from leadflow.models import Lead
from leadflow.pipeline.activities import log_activity
from leadflow.pipeline.assignments import assign_lead
from leadflow.pipeline.outcomes import set_stage
from leadflow.routing.worklist import work_next
from leadflow.settings import Settings
from tests.conftest import Database

REPS = [["external_id", "name", "territory", "capacity"], ["ann", "Ann", "East", "50"]]


def test_first_touches_then_follow_ups_then_the_best_open_leads(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    assert db.cli("reps", "import", str(write_csv("r.csv", REPS)))[0] == 0
    settings = Settings()
    now = datetime.now().replace(microsecond=0) - timedelta(hours=1)
    names = ["untouched", "due", "good", "weak", "later", "won", "stale"]
    with session_scope(db.engine) as s:
        records = [{"external_id": n, "email": f"{n}@{n}.example"} for n in names]
        capture_leads(s, settings=settings, records=records, channel="t", route=False)
        ann = find_rep(s, ref="ann")
        lead: dict[str, Lead] = {n: find_lead(s, ref=n) for n in names}
        for n in names:
            assign_lead(s, lead=lead[n], rep=ann, by="t", reason="t")
        for n in ("due", "good", "weak", "later", "won"):
            log_activity(s, lead=lead[n], rep=ann, kind="call", outcome="connected", at=now)
        lead["good"].grade, lead["good"].win_probability = "A", 0.6
        lead["weak"].grade, lead["weak"].win_probability = "C", 0.1
        set_stage(s, lead=lead["due"], stage="nurture", by="t", follow_up_at=now + timedelta(days=1))
        set_stage(s, lead=lead["later"], stage="nurture", by="t", follow_up_at=now + timedelta(days=30))
        set_stage(s, lead=lead["won"], stage="won", by="t", amount=1000.0)
        lead["stale"].assigned_at = now - timedelta(days=12)  # its first touch missed by over a week
        # two days on: the first follow-up is due, the other not yet
        ranked = work_next(s, settings=settings, rep_id=ann.id, now=now + timedelta(days=2))
    assert ranked["external_id"].to_list() == ["untouched", "due", "good", "weak", "later", "stale"]
    assert ranked["next"].to_list() == [
        "first touch due",
        "follow-up due",
        "open",
        "open",
        "nurture",
        "backlog",
    ]
    assert ranked["due_at"][0] is not None and ranked["due_at"][2] is None
