"""Working leads through the API: lists scoped by role with cursors, activities, stages."""

from __future__ import annotations

from sqlalchemy import select

from leadflow.db import session_scope
from leadflow.models import AuditEntry
from tests.api.conftest import Api
from tests.conftest import Database


def _capture(api: Api, territory: str, n: int) -> list[int]:
    ids = []
    for i in range(n):
        body = {"email": f"{territory.lower()}{i}@x.example", "territory": territory}
        response = api.client.post("/v1/leads", json=body, headers=api.as_("admin"))
        assert response.status_code == 201
        ids.append(response.json()["id"])
    return ids


def test_lists_are_scoped_and_paged(api: Api) -> None:
    east, west = _capture(api, "East", 5), _capture(api, "West", 3)
    unplaced = api.client.post("/v1/leads", json={"email": "nobody@x.example"}, headers=api.as_("admin"))
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.client.get("/v1/leads", params=params, headers=api.as_("ann")).json()
        seen += [lead["id"] for lead in page["leads"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == east  # Ann's own leads, each once, in order, over three pages
    managed = api.client.get("/v1/leads", headers=api.as_("east")).json()["leads"]
    assert [lead["id"] for lead in managed] == [*east, unplaced.json()["id"]]  # the team's and the unassigned
    everyone = api.client.get("/v1/leads", params={"limit": 500}, headers=api.as_("admin")).json()
    assert len(everyone["leads"]) == 9 and everyone["next_cursor"] is None
    assert set(west) <= {lead["id"] for lead in everyone["leads"]}
    assert api.client.get("/v1/leads", headers=api.as_("intake")).status_code == 403
    assert api.client.get("/v1/leads", params={"cursor": "x"}, headers=api.as_("ann")).status_code == 422


def test_a_rep_works_their_lead_and_not_another(api: Api, db: Database) -> None:
    east, west = _capture(api, "East", 1)[0], _capture(api, "West", 1)[0]
    call = {"kind": "call", "outcome": "connected", "note": "wants a demo"}
    logged = api.client.post(f"/v1/leads/{east}/activities", json=call, headers=api.as_("ann"))
    assert logged.status_code == 201, logged.text
    assert (
        api.client.post(f"/v1/leads/{west}/activities", json=call, headers=api.as_("ann")).status_code == 404
    )
    bad = api.client.post(
        f"/v1/leads/{east}/activities", json={"kind": "carrier pigeon"}, headers=api.as_("ann")
    )
    assert bad.status_code == 422 and "unknown activity kind" in bad.text
    moved = api.client.post(f"/v1/leads/{east}/stage", json={"stage": "qualified"}, headers=api.as_("ann"))
    assert moved.status_code == 200 and moved.json()["stage"] == "qualified"
    no_amount = api.client.post(f"/v1/leads/{east}/stage", json={"stage": "won"}, headers=api.as_("ann"))
    assert no_amount.status_code == 422 and "amount" in no_amount.text
    won = api.client.post(
        f"/v1/leads/{east}/stage", json={"stage": "won", "amount": 1200}, headers=api.as_("ann")
    )
    assert won.status_code == 200 and won.json()["stage"] == "won"
    backwards = api.client.post(f"/v1/leads/{east}/stage", json={"stage": "lead"}, headers=api.as_("ann"))
    assert backwards.status_code == 422
    assert api.client.post(f"/v1/leads/{west}/stage", json={"stage": "lost", "reason": "x"},
                           headers=api.as_("ann")).status_code == 404  # fmt: skip
    with session_scope(db.engine) as s:
        actions = [
            (e.actor, e.action)
            for e in s.scalars(
                select(AuditEntry).where(AuditEntry.entity_id == str(east)).order_by(AuditEntry.id)
            )
        ]
    assert actions[1:] == [
        ("ann@example.com", "log activity"),
        ("ann@example.com", "set stage"),
        ("ann@example.com", "set stage"),
    ]
