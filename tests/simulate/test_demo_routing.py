"""A lead posted to a fresh demo is routed, with or without a country: the demo ships its
territory rules."""

from __future__ import annotations

from sqlalchemy import select

from leadflow.db import session_scope
from leadflow.intake.capture import capture_leads
from leadflow.models import Rep, Team
from leadflow.settings import Settings
from tests.conftest import Database


def test_every_posted_lead_of_a_fresh_demo_is_routed(db: Database) -> None:
    code, _, err = db.cli("demo", "--leads", "400", "--reps", "8", "--seed", "5")
    assert code == 0, err
    records = [{"email": "ada@engines.example", "country": "DE"}, {"email": "bo@nowhere.example"},
               {"email": "cy@sg.example", "country": "SG"}]  # fmt: skip
    with session_scope(db.engine, write=True) as s:
        captured = capture_leads(s, settings=Settings(), records=records, channel="api")
        teams = dict(s.execute(select(Rep.external_id, Team.name).join(Team, Team.id == Rep.team_id)).all())
    owners = [lead.owner for lead in captured.leads]
    assert None not in owners, [lead.reason for lead in captured.leads]
    assert [teams[o] for o in owners if o] == ["EMEA team", "North America team", "APAC team"]
