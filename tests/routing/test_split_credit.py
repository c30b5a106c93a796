"""Split credit: a buyer in one territory and headquarters in another share the credit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from leadflow.db import session_scope
from leadflow.models import Assignment, Lead, Rep
from leadflow.routing.engine import route_leads
from leadflow.settings import Routing, Settings, TerritoryRule
from tests.conftest import Database

NOW = datetime(2026, 5, 14, 10, 0)


def test_headquarters_rep_gets_the_configured_share_without_using_capacity(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    reps = [
        ["external_id", "name", "territory", "capacity"],
        ["de1", "Dora", "EMEA", "1"],
        ["us1", "Sam", "Americas", "1"],
    ]
    companies = [["name", "country"], ["Globex", "US"], ["Hanse AG", "DE"]]
    leads = [
        ["external_id", "created_at", "company", "country"],
        ["B1", "2026-05-01", "Globex", "DE"],  # buyer in Germany, headquarters in the US
        ["B2", "2026-05-02", "Hanse AG", "DE"],  # both in Germany, but Dora is full by then
        ["B3", "2026-05-03", "Globex", "US"],  # both in the US
    ]
    assert db.cli("reps", "import", str(write_csv("r.csv", reps)))[0] == 0
    assert db.cli("companies", "import", str(write_csv("c.csv", companies)))[0] == 0
    assert db.cli("leads", "import", str(write_csv("l.csv", leads)))[0] == 0
    rules = [TerritoryRule(name="EMEA", countries=["DE"]), TerritoryRule(name="Americas", countries=["US"])]
    settings = Settings(routing=Routing(territories=rules, headquarters_share=0.4))
    with session_scope(db.engine) as s:
        plan = route_leads(s, settings=settings, now=NOW, by="test")
    with session_scope(db.engine) as s:
        rows = s.execute(
            select(Lead.external_id, Rep.external_id, Assignment.role, Assignment.credit_share)
            .join(Lead, Lead.id == Assignment.lead_id)
            .join(Rep, Rep.id == Assignment.rep_id)
            .order_by(Lead.external_id, Assignment.role.desc())
        ).all()
    assert [tuple(r) for r in rows] == [
        ("B1", "de1", "owner", 0.6),
        ("B1", "us1", "credit", 0.4),
        ("B3", "us1", "owner", 1.0),  # Sam's share of B1 did not use his capacity
    ]
    assert [d.queue for d in plan.decisions if d.lead_external_id == "B2"] == ["reserve"]
