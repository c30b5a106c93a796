"""Teams, sources, territories; editing and assigning a lead; the backtest; the delivery log."""

from __future__ import annotations

from sqlalchemy import select

from leadflow.db import session_scope
from leadflow.models import AuditEntry, Lead, LeadChange
from tests.api.conftest import Api
from tests.conftest import Database


def _capture(api: Api, territory: str) -> int:
    answer = api.client.post(
        "/v1/leads", json={"email": f"x@{territory.lower()}.example", "territory": territory},
        headers=api.as_("intake"),
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    lead_id: int = answer.json()["id"]
    return lead_id


def test_directory_is_scoped_by_role(api: Api) -> None:
    everyone = api.client.get("/v1/teams", headers=api.as_("admin")).json()
    assert [t["name"] for t in everyone] == ["East team", "West team"]
    assert everyone[0]["active_reps"] == 1 and everyone[0]["routing"]["policy"] == "round_robin"
    assert [t["name"] for t in api.client.get("/v1/teams", headers=api.as_("east")).json()] == ["East team"]
    territories = api.client.get("/v1/territories", headers=api.as_("east")).json()
    assert {t["name"]: t["active_reps"] for t in territories} == {"East": 1, "West": 1}
    assert api.client.get("/v1/sources", headers=api.as_("admin")).status_code == 200
    for path in ("/v1/teams", "/v1/sources", "/v1/territories"):
        assert api.client.get(path, headers=api.as_("ann")).status_code == 403
        assert api.client.get(path, headers=api.as_("intake")).status_code == 403


def test_a_rep_records_bant_and_the_lead_is_scored_again(api: Api, db: Database) -> None:
    lead = _capture(api, "East")
    before = api.client.get(f"/v1/leads/{lead}", headers=api.as_("ann")).json()
    edit = {"budget": 250000, "authority": True, "need": "replace spreadsheets", "timeline": "this quarter"}
    after = api.client.patch(f"/v1/leads/{lead}", json=edit, headers=api.as_("ann"))
    assert after.status_code == 200, after.text
    assert after.json()["fit_score"] > before["fit_score"]  # BANT met scores higher
    assert (
        api.client.patch(
            f"/v1/leads/{lead}", json={"email": "a@b.example"}, headers=api.as_("ann")
        ).status_code
        == 422
    )
    assert (
        api.client.patch(f"/v1/leads/{lead}", json={"budget": 1}, headers=api.as_("wes")).status_code == 404
    )
    with session_scope(db.engine) as s:
        changes = s.scalars(select(LeadChange).where(LeadChange.lead_id == lead)).all()
        assert {c.field for c in changes} == set(edit) and {c.by for c in changes} == {"ann@example.com"}


def test_a_manager_assigns_within_their_team_only(api: Api) -> None:
    lead = _capture(api, "East")
    to_wes = api.client.post(f"/v1/leads/{lead}/assign", json={"rep": "wes", "reason": "knows them"},
                             headers=api.as_("east"))  # fmt: skip
    assert to_wes.status_code == 422 and "not in your team" in to_wes.text
    assert api.client.post(f"/v1/leads/{lead}/assign", json={"rep": "wes", "reason": "x"},
                           headers=api.as_("ann")).status_code == 403  # fmt: skip
    moved = api.client.post(f"/v1/leads/{lead}/assign", json={"rep": "wes", "reason": "speaks German"},
                            headers=api.as_("admin"))  # fmt: skip
    assert moved.status_code == 200 and moved.json()["owner"] == "wes"
    assert api.client.get(f"/v1/leads/{lead}", headers=api.as_("ann")).status_code == 404


def test_simulate_says_when_history_is_too_thin(api: Api) -> None:
    period = {"since": "2026-01-01T00:00:00", "until": "2026-04-01T00:00:00"}
    thin = api.client.post("/v1/routing/simulate", json=period, headers=api.as_("east"))
    assert thin.status_code == 422 and "closed leads" in thin.text
    backwards = {"since": period["until"], "until": period["since"]}
    assert api.client.post("/v1/routing/simulate", json=backwards, headers=api.as_("east")).status_code == 422
    assert api.client.post("/v1/routing/simulate", json=period, headers=api.as_("ann")).status_code == 403


def test_the_delivery_log_is_for_admins(api: Api) -> None:
    assert api.client.get("/v1/notifications", headers=api.as_("admin")).json() == []
    assert api.client.get("/v1/notifications", headers=api.as_("east")).status_code == 403
    assert api.client.get("/v1/notifications?status=lost", headers=api.as_("admin")).status_code == 422


def test_a_manager_changes_their_reps_capacity_and_standing_and_the_change_is_audited(
    api: Api, db: Database
) -> None:
    body = {"capacity": 30, "active": False}
    # another team's rep is not a manager's to see, let alone change
    assert api.client.patch("/v1/reps/wes", json=body, headers=api.as_("east")).status_code == 404
    assert api.client.patch("/v1/reps/ann", json=body, headers=api.as_("ann")).status_code == 403
    assert api.client.patch("/v1/reps/ann", json={"capacity": -1}, headers=api.as_("east")).status_code == 422
    answer = api.client.patch("/v1/reps/ann", json=body, headers=api.as_("east"))
    assert answer.status_code == 200, answer.text
    shown = answer.json()
    assert (shown["rep"], shown["capacity"], shown["active"]) == ("ann", 30, False)
    assert shown["changed"] == {
        "capacity": {"before": 10, "after": 30},
        "active": {"before": True, "after": False},
    }
    again = api.client.patch("/v1/reps/ann", json=body, headers=api.as_("admin")).json()
    assert again["changed"] == {}
    with session_scope(db.engine) as s:
        entries = list(s.scalars(select(AuditEntry).where(AuditEntry.entity == "rep")))
    assert [(e.actor, e.entity_id, e.after) for e in entries if e.action == "update rep"] == [
        ("east@example.com", "ann", {"capacity": 30, "active": False})
    ]


def test_a_leads_type_and_source_are_corrected_with_history(api: Api, db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    sources = write_csv(
        "s.csv", [["name", "channel", "cost_per_lead"], ["Partner referral", "referral", "0"]]
    )
    assert db.cli("sources", "import", str(sources))[0] == 0
    lead = _capture(api, "East")
    bad_type = api.client.patch(
        f"/v1/leads/{lead}", json={"lead_type": "carrier pigeon"}, headers=api.as_("ann")
    )
    assert bad_type.status_code == 422 and "not a lead type" in bad_type.text
    unknown = api.client.patch(f"/v1/leads/{lead}", json={"source": "Billboard"}, headers=api.as_("ann"))
    assert unknown.status_code == 422 and "Partner referral" in unknown.text
    fixed = {"lead_type": "referral", "source": "partner  REFERRAL"}
    answer = api.client.patch(f"/v1/leads/{lead}", json=fixed, headers=api.as_("ann"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["source"] == "Partner referral"
    with session_scope(db.engine) as s:
        changes = {
            c.field: c.new_value for c in s.scalars(select(LeadChange).where(LeadChange.lead_id == lead))
        }
        assert changes == {"lead_type": "referral", "source": "Partner referral"}
        assert s.get(Lead, lead).lead_type == "referral"  # type: ignore[union-attr]
