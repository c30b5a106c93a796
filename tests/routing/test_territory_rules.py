"""Territory rules kept on the territories route captured leads when leadflow.toml has none."""

from __future__ import annotations

import json
from typing import Any

import polars as pl
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from leadflow.db import session_scope
from leadflow.intake.capture import capture_leads
from leadflow.models import Territory
from leadflow.routing.territories import match_territories, match_territory
from leadflow.settings import Routing, Settings, TerritoryRule
from tests.conftest import Database

HQ: dict[str, str | None] = {"country": "hq_country", "region": None, "state": None, "postal_code": None}

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


def _reference_rule(rule: TerritoryRule, columns: dict[str, str | None] | None = None) -> pl.Expr:
    """A rule as a frame expression, an independent reading of its conditions to check the
    matcher's own against (it tests values, not expressions)."""

    def col(name: str) -> pl.Expr:
        source = (columns or {}).get(name, name)
        return pl.col(source) if source is not None else pl.lit(None, dtype=pl.String)

    def lower(name: str) -> pl.Expr:
        return col(name).cast(pl.String).str.to_lowercase().str.strip_chars()

    conditions: list[pl.Expr] = [
        lower(column).is_in([v.lower().strip() for v in values])
        for column, values in (
            ("country", rule.countries),
            ("region", rule.regions),
            ("state", rule.states),
            ("industry", rule.industries),
            ("company", rule.accounts),
        )
        if values
    ]
    if rule.postal_prefixes:
        postal = col("postal_code").cast(pl.String).str.replace_all(r"\s", "").str.to_lowercase()
        prefixes = [postal.str.starts_with(p.lower().replace(" ", "")) for p in rule.postal_prefixes]
        conditions.append(pl.any_horizontal(prefixes))
    size = pl.col("company_size").cast(pl.Float64)
    if rule.size_min is not None:
        conditions.append(size >= rule.size_min)
    if rule.size_max is not None:
        conditions.append(size <= rule.size_max)
    return pl.all_horizontal(conditions).fill_null(False) if conditions else pl.lit(True)


def _reference_chain(rules: list[TerritoryRule], columns: dict[str, str | None] | None = None) -> pl.Expr:
    chain: Any = pl.when(_reference_rule(rules[0], columns)).then(pl.lit(rules[0].name))
    for rule in rules[1:]:
        chain = chain.when(_reference_rule(rule, columns)).then(pl.lit(rule.name))
    return chain.otherwise(None).cast(pl.String)


# each attribute's values, a few spellings of each, so that rules and leads meet often
_VALUES = {
    "country": ["DE", "de ", "US"],
    "region": ["EMEA", " emea", "APAC"],
    "state": ["CA", "ca", "NY"],
    "industry": ["Software", "software ", "Retail"],
    "company": ["Acme", "ACME", "Globex"],
    "postal_code": ["10115", " 10 115", "94105", "D-1"],
}
_FIELDS = {"countries": "country", "regions": "region", "states": "state", "industries": "industry"}


@st.composite
def _rules(draw: st.DrawFn) -> TerritoryRule:
    """A rule of none to two conditions, so that leads often meet it."""
    asked = draw(st.lists(st.sampled_from([*_FIELDS, "accounts", "postal", "size"]), max_size=2, unique=True))
    fields: dict[str, Any] = {}
    for kind in asked:
        if kind == "postal":
            fields["postal_prefixes"] = draw(
                st.lists(st.sampled_from(["10", "101 1", "9", "d"]), min_size=1, max_size=2)
            )
        elif kind == "size":
            fields["size_min"] = draw(st.none() | st.sampled_from([50, 100]))
            fields["size_max"] = draw(st.none() | st.sampled_from([100, 5000]))
        else:
            values = _VALUES[_FIELDS.get(kind, "company")]
            fields[kind] = draw(st.lists(st.sampled_from(values), min_size=1, max_size=2))
    return TerritoryRule(name=draw(st.sampled_from(["A", "B", "C"])), **fields)


@given(
    rules=st.lists(_rules(), min_size=1, max_size=4),
    rows=st.lists(
        st.tuples(
            *[st.none() | st.sampled_from(v) for v in _VALUES.values()],
            st.none() | st.sampled_from([50, 100, 300, 5000, 5001]),
        ),
        min_size=1,
        max_size=10,
    ),
    in_extra=st.booleans(),
)
@example(  # sizes at, between and beyond the bounds: a size on a bound is its own case
    rules=[
        TerritoryRule(name="Mid", size_min=100, size_max=5000),
        TerritoryRule(name="Small", size_max=100),
        TerritoryRule(name="Big", size_min=5001),
    ],
    rows=[(None, None, None, None, None, None, size) for size in (50, 100, 300, 5000, 5001, 6000, None)],
    in_extra=False,
)
@settings(max_examples=150, deadline=None)
def test_rules_match_as_an_independent_frame_expression_does(
    rules: list[TerritoryRule], rows: list[tuple[Any, ...]], in_extra: bool
) -> None:
    """The first matching rule, for the lead and for its headquarters, whether state and postal
    code are columns or extra attributes."""
    names = ["country", "region", "state", "industry", "company", "postal_code", "company_size"]
    frame = pl.DataFrame(
        {
            **{n: [r[i] for r in rows] for i, n in enumerate(names)},
            "hq_country": [r[0] for r in reversed(rows)],
        },
        schema={**dict.fromkeys(names, pl.String), "company_size": pl.Int64, "hq_country": pl.String},
    )
    expected = frame.with_columns(  # not a select: a rule without conditions is a literal, one row
        _reference_chain(rules).alias("territory"), _reference_chain(rules, HQ).alias("hq_territory")
    )
    if in_extra:  # as the queue reads them: in the lead's extra attributes
        extra = [
            json.dumps({k: v for k, v in (("state", r[2]), ("postal_code", r[5])) if v is not None})
            for r in rows
        ]
        frame = frame.drop("state", "postal_code").with_columns(pl.Series("extra", extra))
    territory, headquarters = match_territories(frame, rules)
    assert territory.to_list() == expected["territory"].to_list()
    assert headquarters.to_list() == expected["hq_territory"].to_list()
