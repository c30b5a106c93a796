"""Territory rules kept on the territories route captured leads when leadflow.toml has none."""

from __future__ import annotations

import polars as pl
from sqlalchemy import select

from leadflow.db import session_scope
from leadflow.intake.capture import capture_leads
from leadflow.models import Territory
from leadflow.routing.territories import match_territories, match_territory
from leadflow.settings import Routing, Settings, TerritoryRule
from tests.conftest import Database

REPS = [
    ["external_id", "name", "territory", "capacity"],
    ["ann", "Ann", "East", "10"],
    ["wes", "Wes", "West", "10"],
]


def _map(db: Database, rules: dict[str, object]) -> None:
    with session_scope(db.engine) as s:
        for territory in s.scalars(select(Territory)):
            territory.rules = rules[territory.name]  # type: ignore[assignment]


def test_the_ledgers_own_rules_route_a_lead_and_toml_overrides_them(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    assert db.cli("reps", "import", str(write_csv("r.csv", REPS)))[0] == 0
    _map(db, {"East": {"regions": ["east coast"]}, "West": {"countries": ["US"], "regions": ["west coast"]}})
    with session_scope(db.engine) as s:
        got = capture_leads(s, settings=Settings(), channel="t", records=[
            {"email": "a@x.example", "region": "East Coast"},
            {"email": "b@y.example", "region": "West Coast", "country": "US"},
            {"email": "c@z.example", "region": "Midwest"},
        ]).leads  # fmt: skip
        assert [c.owner for c in got] == ["ann", "wes", None]
        assert got[2].queue == "unassigned"
        toml = Settings(routing=Routing(territories=[TerritoryRule(name="West", regions=["east coast"])]))
        moved = capture_leads(
            s, settings=toml, channel="t", records=[{"email": "d@w.example", "region": "east coast"}]
        )
        assert moved.leads[0].owner == "wes"


def test_a_broken_rule_on_a_territory_is_named(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    assert db.cli("reps", "import", str(write_csv("r.csv", REPS)))[0] == 0
    _map(db, {"East": {"regions": ["east coast"]}, "West": {"region": "oops"}})
    assert (
        db.cli(
            "leads", "import", str(write_csv("l.csv", [["email", "region"], ["a@x.example", "east coast"]]))
        )[0]
        == 0
    )
    code, out, err = db.cli("route")
    assert code != 0 and "territory 'West'" in out + err


def test_headquarters_match_only_the_rules_that_ask_nothing_unknown_of_them() -> None:
    """A lead's headquarters are known by their country (and the lead's company, industry and
    size): a rule on region, state or postal code never matches them, whichever rules are set."""
    leads = pl.DataFrame(
        {
            "country": ["DE", "US", "FR", None],
            "region": ["EMEA", "North America", "EMEA", None],
            "industry": ["software", "retail", "software", None],
            "company": ["Globex", "Initech", "Acme", None],
            "company_size": [50, 5000, 300, None],
            "state": [None, "CA", None, None],
            "postal_code": ["10115", "94105", None, None],
            "hq_country": ["US", "US", "DE", "FR"],
        }
    )
    regional = [
        TerritoryRule(name="EMEA", regions=["EMEA"]),
        TerritoryRule(name="Americas", regions=["North America"]),
    ]
    by_country = [
        TerritoryRule(name="DACH", countries=["DE", "AT"]),
        TerritoryRule(name="US", countries=["US"]),
    ]
    mixed = [
        TerritoryRule(name="West", states=["CA"]),
        TerritoryRule(name="Big software", industries=["software"], size_min=100),
    ]
    for rules, expected in (
        (regional, [None, None, None, None]),
        (by_country, ["US", "US", "DACH", None]),
        (mixed, [None, None, "Big software", None]),
        ([*regional, TerritoryRule(name="Everyone")], ["Everyone"] * 4),
    ):
        territory, headquarters = match_territories(leads, rules)
        assert headquarters.to_list() == expected, rules
        assert territory.to_list() == match_territory(leads, rules).to_list()
