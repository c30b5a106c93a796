"""Admins manage users through the API: disable, enable, change a role, set a password."""

from __future__ import annotations

from leadflow.db import session_scope
from tests.api.conftest import Api
from tests.conftest import Database


def test_an_admin_disables_enables_and_changes_users(api: Api, db: Database) -> None:
    listed = api.client.get("/v1/users", headers=api.as_("admin"))
    assert listed.status_code == 200 and {u["email"] for u in listed.json()} >= {"ann@example.com"}
    assert api.client.get("/v1/users", headers=api.as_("east")).status_code == 403
    assert api.client.get("/v1/leads", headers=api.as_("ann")).status_code == 200
    off = api.client.patch("/v1/users/ann@example.com", json={"active": False}, headers=api.as_("admin"))
    assert off.status_code == 200 and off.json()["active"] is False
    assert api.client.get("/v1/leads", headers=api.as_("ann")).status_code == 401  # her token ended
    on = api.client.patch("/v1/users/ann@example.com", json={"active": True}, headers=api.as_("admin"))
    assert on.status_code == 200
    assert api.client.get("/v1/leads", headers=api.as_("ann")).status_code == 401  # revoked, not paused
    promoted = api.client.patch(
        "/v1/users/ann@example.com", json={"role": "manager", "team": "east TEAM"}, headers=api.as_("admin")
    )
    assert promoted.status_code == 200 and promoted.json()["role"] == "manager"
    no_team = api.client.patch(
        "/v1/users/wes@example.com", json={"role": "manager"}, headers=api.as_("admin")
    )
    assert no_team.status_code == 422
    short = api.client.patch(
        "/v1/users/wes@example.com", json={"password": "short"}, headers=api.as_("admin")
    )
    assert short.status_code == 422
    ok = api.client.patch(
        "/v1/users/wes@example.com", json={"password": "a long enough one"}, headers=api.as_("admin")
    )
    assert ok.status_code == 200
    itself = api.client.patch("/v1/users/boss@example.com", json={"active": False}, headers=api.as_("admin"))
    assert itself.status_code == 409
    assert api.client.patch("/v1/users/nobody@x.com", json={}, headers=api.as_("admin")).status_code == 422


def test_an_admin_invites_a_user_who_signs_in_with_the_one_time_password(api: Api, db: Database) -> None:
    from leadflow.access.service import check_password

    body = {"email": "Nia@Example.com", "name": "Nia", "role": "rep", "rep": "ann"}
    assert api.client.post("/v1/users", json=body, headers=api.as_("east")).status_code == 403
    answer = api.client.post("/v1/users", json=body, headers=api.as_("admin"))
    assert answer.status_code == 201, answer.text
    invited = answer.json()
    assert (invited["email"], invited["role"]) == ("nia@example.com", "rep")
    with session_scope(db.engine) as s:
        assert check_password(s, email="nia@example.com", password=invited["password"]) is not None
    assert api.client.post("/v1/users", json=body, headers=api.as_("admin")).status_code == 422  # twice
    no_rep = api.client.post(
        "/v1/users", json=body | {"email": "x@example.com", "rep": None}, headers=api.as_("admin")
    )
    assert no_rep.status_code == 422
