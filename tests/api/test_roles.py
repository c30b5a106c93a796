"""Least privilege, endpoint by endpoint and role by role: every allowed combination gets through
and every forbidden one gets exactly its refusal (401 no token, 403 wrong role, 404 out of scope)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api

OK = "allowed"  # any answer but 401, 403 or 404 (a 422 means the request got to the work)
ROLES = ("admin", "east", "ann", "wes", "intake", "nobody")


def _matrix(lead: str) -> list[tuple[str, str, Any, dict[str, Any]]]:
    """(method, path, body, expected by role); ``lead`` is Ann's lead in the East team."""
    managers = {"admin": OK, "east": OK, "ann": 403, "wes": 403, "intake": 403}
    readers = {"admin": OK, "east": OK, "ann": OK, "wes": 404, "intake": 403}
    return [
        (
            "POST",
            "/v1/leads",
            {"email": "new@lead.example"},
            {"admin": OK, "east": OK, "ann": 403, "wes": 403, "intake": OK},
        ),
        ("GET", "/v1/leads", None, {"admin": OK, "east": OK, "ann": OK, "wes": OK, "intake": 403}),
        ("GET", f"/v1/leads/{lead}", None, readers),
        ("GET", f"/v1/leads/{lead}/story", None, readers),
        ("PATCH", f"/v1/leads/{lead}", {"need": "faster quotes"}, readers),
        ("POST", f"/v1/leads/{lead}/activities", {"kind": "note", "note": "x"}, readers),
        ("POST", f"/v1/leads/{lead}/stage", {"stage": "qualified"}, readers),
        ("POST", f"/v1/leads/{lead}/assign", {"rep": "ann", "reason": "r"}, managers),
        ("GET", "/v1/reps", None, managers),
        ("GET", "/v1/teams", None, managers),
        ("GET", "/v1/sources", None, managers),
        ("GET", "/v1/territories", None, managers),
        ("POST", "/v1/routing/route", {"dry_run": True}, managers),
        ("POST", "/v1/routing/route", {"dry_run": True, "policy": "merit"}, {**managers, "east": 403}),
        (
            "POST",
            "/v1/routing/simulate",
            {"since": "2026-01-01T00:00:00", "until": "2026-02-01T00:00:00"},
            managers,
        ),
        *[
            ("GET", f"/v1/reports/{r}", None, managers)
            for r in ("conversion", "reps", "cohorts", "sources", "funnel")
        ],
        ("GET", "/v1/reports/conversion?team=West%20team", None, {**managers, "east": 404}),
        ("GET", "/v1/notifications", None, {**managers, "east": 403}),
    ]


@pytest.mark.parametrize("role", ROLES)
def test_every_endpoint_answers_each_role_as_its_privileges_say(api: Api, role: str) -> None:
    created = api.client.post(
        "/v1/leads", json={"email": "a@acme.example", "territory": "East"}, headers=api.as_("intake")
    )
    assert created.status_code == 201 and created.json()["owner"] == "ann"
    headers = api.as_(role) if role != "nobody" else {}
    wrong: list[str] = []
    for method, path, body, expected in _matrix(str(created.json()["id"])):
        status = api.client.request(method, path, json=body, headers=headers).status_code
        want = 401 if role == "nobody" else expected[role]
        good = status not in (401, 403, 404) if want == OK else status == want
        if not good:
            wrong.append(f"{method} {path} as {role}: {status}, expected {want}")
    assert wrong == []
