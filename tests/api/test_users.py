"""Admins manage users through the API: disable, enable, change a role, set a password."""

from __future__ import annotations

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
