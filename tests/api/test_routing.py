"""Routing and reps over the API, and a lead's story with why each rep got it."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.conftest import Database


def test_dry_run_then_route_and_read_why(api: Api, db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    leads = [["external_id", "created_at", "territory"]] + [[f"Q{i}", "2026-05-01", "East"] for i in range(3)]
    assert db.cli("leads", "import", str(write_csv("q.csv", leads)))[0] == 0
    dry = api.client.post("/v1/routing/route", json={"dry_run": True}, headers=api.as_("east"))
    assert dry.status_code == 200 and dry.json()["assigned"] == 3
    assert all(d["rep_external_id"] == "ann" for d in dry.json()["decisions"])
    listed = api.client.get("/v1/leads", params={"unassigned": True}, headers=api.as_("admin")).json()
    assert len(listed["leads"]) == 3  # the dry run wrote nothing
    assert (
        api.client.post("/v1/routing/route", json={"policy": "merit"}, headers=api.as_("east")).status_code
        == 403
    )
    assert api.client.post("/v1/routing/route", json={}, headers=api.as_("ann")).status_code == 403
    assert (
        api.client.post("/v1/routing/route", json={"policy": "lottery"}, headers=api.as_("admin")).status_code
        == 422
    )
    done = api.client.post("/v1/routing/route", json={}, headers=api.as_("east"))
    assert done.status_code == 200 and done.json()["assigned"] == 3
    story = api.client.get("/v1/leads/Q0/story", headers=api.as_("ann"))
    assert story.status_code == 200
    why = story.json()["assignments"][-1]
    assert why["policy"] == "round_robin" and why["inputs"]["eligible"] == ["ann"]
    assert api.client.get("/v1/leads/Q0/story", headers=api.as_("wes")).status_code == 404
    reps = api.client.get("/v1/reps", headers=api.as_("east")).json()
    assert [r["external_id"] for r in reps] == ["ann"] and reps[0]["leads"] == 3
    assert len(api.client.get("/v1/reps", headers=api.as_("admin")).json()) == 2


def test_a_managers_routing_run_routes_their_own_team_only(api: Api, db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    leads = [["external_id", "created_at", "territory"]] + [
        [f"{t[0]}{i}", "2026-05-01", t] for t in ("East", "West") for i in range(3)
    ]
    assert db.cli("leads", "import", str(write_csv("q.csv", leads)))[0] == 0
    dry = api.client.post("/v1/routing/route", json={"dry_run": True}, headers=api.as_("east")).json()
    assert sorted(d["lead_external_id"] for d in dry["decisions"]) == ["E0", "E1", "E2"]
    done = api.client.post("/v1/routing/route", json={}, headers=api.as_("east")).json()
    assert done["assigned"] == 3 and {d["rep_external_id"] for d in done["decisions"]} == {"ann"}
    waiting = api.client.get("/v1/leads", params={"unassigned": True}, headers=api.as_("admin")).json()
    assert sorted(lead["external_id"] for lead in waiting["leads"]) == ["W0", "W1", "W2"]  # West's untouched
    everyone = api.client.post("/v1/routing/route", json={}, headers=api.as_("admin")).json()
    assert everyone["assigned"] == 3 and {d["rep_external_id"] for d in everyone["decisions"]} == {"wes"}
