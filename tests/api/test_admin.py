"""Running the team from the API: reps added and changed, a team's policy, territory rules with
a preview, daily caps and weights as settings versions; the leads captured afterwards follow."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from leadflow.db import session_scope
from leadflow.intake.capture import capture_leads
from leadflow.models import AuditEntry, utcnow
from leadflow.settings import Settings
from tests.api.conftest import Api
from tests.conftest import Database


def _capture(api: Api, n: int, country: str, tag: str) -> list[str | None]:
    owners = []
    for i in range(n):
        body = {"email": f"{tag}{i}@buyer{i}.example", "company": f"Buyer {tag} {i}", "country": country}
        answer = api.client.post("/v1/leads", json=body, headers=api.as_("intake"))
        assert answer.status_code == 201, answer.text
        owners.append(answer.json()["owner"])
    return owners


def _rules(api: Api) -> None:
    rules = {"rules": [{"name": "East", "countries": ["US"]}, {"name": "West", "countries": ["GB"]}]}
    assert api.client.put("/v1/routing/territories", json=rules, headers=api.as_("admin")).status_code == 200


def test_a_manager_adds_a_rep_sets_weights_and_the_next_leads_follow(api: Api) -> None:
    _rules(api)
    new = {"external_id": "eve", "name": "Eve  Sun", "email": "Eve@Example.com", "territories": ["East"],
           "capacity": 40}  # fmt: skip
    # a manager adds to their own team only
    refused = api.client.post("/v1/reps", json=new | {"team": "West team"}, headers=api.as_("east"))
    assert refused.status_code == 403
    assert api.client.post("/v1/reps", json=new, headers=api.as_("ann")).status_code == 403
    added = api.client.post("/v1/reps", json=new, headers=api.as_("east"))
    assert added.status_code == 201, added.text
    assert added.json() | {"working_hours": None} == added.json()
    assert (added.json()["team"], added.json()["name"], added.json()["email"]) == (
        "East team", "Eve Sun", "eve@example.com"
    )  # fmt: skip
    assert api.client.post("/v1/reps", json=new, headers=api.as_("east")).status_code == 422  # twice
    change = {"policy": "weighted", "weights": {"ann": 3, "eve": 1}}
    assert (
        api.client.patch("/v1/teams/West team/routing", json=change, headers=api.as_("east")).status_code
        == 404
    )
    answer = api.client.patch("/v1/teams/East team/routing", json=change, headers=api.as_("east"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["version"]["changes"]["routing.teams.East team.policy"] == [
        "round_robin",
        "weighted",
    ]
    assert Counter(_capture(api, 8, "US", "w")) == {"ann": 6, "eve": 2}
    # eve away for a week: nothing for her
    until = (utcnow() + timedelta(days=7)).isoformat()
    assert (
        api.client.post("/v1/reps/eve/away", json={"ends_at": until}, headers=api.as_("east")).status_code
        == 201
    )
    assert set(_capture(api, 4, "US", "a")) == {"ann"}
    # and West's leads still go to West's rep by the rules
    assert set(_capture(api, 2, "GB", "g")) == {"wes"}


def test_bad_changes_are_refused_with_what_is_wrong(api: Api) -> None:
    bad_policy = api.client.patch(
        "/v1/teams/East team/routing", json={"policy": "best"}, headers=api.as_("admin")
    )
    assert bad_policy.status_code == 422
    bad_rule = {"rules": [{"name": "UK", "countries": ["GB"]}, {"name": "EU", "size_min": "many"}]}
    answer = api.client.put("/v1/routing/territories", json=bad_rule, headers=api.as_("admin"))
    assert answer.status_code == 422
    assert "rule 2 (EU)" in answer.text and "size_min" in answer.text
    # territory rules are the company's: a manager may preview them, not replace them
    good = {"rules": [{"name": "UK", "countries": ["GB"]}]}
    assert api.client.put("/v1/routing/territories", json=good, headers=api.as_("east")).status_code == 403
    assert (
        api.client.post("/v1/routing/territories/preview", json=good, headers=api.as_("ann")).status_code
        == 403
    )
    assert (
        api.client.patch(
            "/v1/reps/ann", json={"timezone": "Mars/Olympus"}, headers=api.as_("admin")
        ).status_code
        == 422
    )
    assert (
        api.client.patch("/v1/reps/ann", json={"team": "West team"}, headers=api.as_("east")).status_code
        == 403
    )
    assert (
        api.client.patch("/v1/reps/ann", json={"team": "Nowhere"}, headers=api.as_("admin")).status_code
        == 422
    )
    assert api.client.get("/v1/settings/history", headers=api.as_("admin")).json() == []


def test_a_preview_says_what_new_rules_would_match_before_they_are_saved(api: Api, db: Database) -> None:
    with session_scope(db.engine) as s:
        records = [{"email": f"p{i}@x{i}.example", "company": f"X{i}", "country": c}
                   for i, c in enumerate(["GB", "GB", "GB", "DE", "US"])]  # fmt: skip
        capture_leads(s, settings=Settings(), records=records, channel="test", route=False)
    rules = {"rules": [{"name": "West", "countries": ["GB", "IE"]}, {"name": "DACH", "countries": ["DE"]}]}
    answer = api.client.post("/v1/routing/territories/preview", json=rules, headers=api.as_("east"))
    assert answer.status_code == 200, answer.text
    preview = answer.json()
    assert preview["waiting"] == 5
    assert preview["now"] == {"West": 3, "DACH": 1, "no territory": 1}
    assert preview["before"] == {"no territory": 5}
    assert "3 would now match West (0 before)" in preview["summary"]
    # nothing was saved by the preview
    assert api.client.get("/v1/routing/territories", headers=api.as_("admin")).json() == {"rules": []}


def test_a_reps_daily_cap_and_weight_are_settings_versions_with_who_and_what(api: Api, db: Database) -> None:
    answer = api.client.patch("/v1/reps/ann", json={"daily_cap": 3, "weight": 2.5}, headers=api.as_("east"))
    assert answer.status_code == 200, answer.text
    assert (answer.json()["daily_cap"], answer.json()["weight"]) == (3, 2.5)
    history = api.client.get("/v1/settings/history", headers=api.as_("admin")).json()
    assert len(history) == 1 and history[0]["by"] == "east@example.com"
    assert history[0]["changes"]["routing.daily_caps.ann"] == [None, 3]
    assert history[0]["changes"]["routing.teams.East team.weights.ann"] == [None, 2.5]
    # the cap holds: ann gets 3 leads today, the rest wait
    _rules(api)
    owners = _capture(api, 5, "US", "c")
    assert owners.count("ann") == 3 and owners.count(None) == 2
    cleared = api.client.patch("/v1/reps/ann", json={"daily_cap": None}, headers=api.as_("admin")).json()
    assert cleared["daily_cap"] is None
    toml = api.client.get("/v1/settings", headers=api.as_("admin"))
    assert toml.status_code == 200 and '[routing.teams."East team".weights]' in toml.text
    assert api.client.get("/v1/settings", headers=api.as_("east")).status_code == 403
    with session_scope(db.engine) as s:
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "update rep")).first() is None


def test_a_reps_own_working_hours_set_their_first_touch_deadlines(api: Api, db: Database) -> None:
    from leadflow.routing.sla import untouched_leads

    _rules(api)
    always = {"start_hour": 0, "end_hour": 24, "days": [0, 1, 2, 3, 4, 5, 6]}
    assert api.client.patch("/v1/reps/wes", json={"working_hours": {"start_hour": 9}},
                            headers=api.as_("admin")).status_code == 200  # fmt: skip
    answer = api.client.patch("/v1/reps/ann", json={"working_hours": always}, headers=api.as_("admin"))
    assert answer.status_code == 200 and answer.json()["working_hours"] == always
    _capture(api, 1, "US", "h")
    settings = Settings()
    with session_scope(db.engine) as s:
        (lead,) = untouched_leads(s, settings=settings)
    hours = settings.sla.first_touch_hours[lead.grade or "D"]
    assert lead.deadline - lead.assigned_at == timedelta(hours=hours)  # any hour of any day counts
