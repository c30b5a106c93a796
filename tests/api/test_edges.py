"""A hostile caller of the API: what a capture may set, what it may learn, hostile values, sizes."""

from __future__ import annotations

import json

from sqlalchemy import select

from leadflow.db import session_scope
from leadflow.models import Activity, Lead
from tests.api.conftest import Api
from tests.conftest import Database


def test_a_capture_cannot_set_owner_stage_outcome_or_amount(api: Api, db: Database) -> None:
    won = {"owner": "wes", "stage": "won", "amount": 987654321, "won_at": "2026-11-30"}
    posted = api.client.post(
        "/v1/leads",
        json={"email": "x@evil.example", "last_name": "X", "extra": won},
        headers=api.as_("intake"),
    )
    assert posted.status_code == 422
    fields = {p["field"] for p in posted.json()["detail"]}
    assert fields == {"owner", "stage", "amount", "won_at"}
    form = {"email": "y@evil.example", "owner": "wes", "stage": "won", "amount": "-5"}
    assert api.client.post("/v1/leads/form", data=form, headers=api.as_("intake")).status_code == 422
    with session_scope(db.engine) as s:
        assert s.scalars(select(Lead)).all() == []  # nothing of either was written


def test_a_capture_of_a_known_lead_fills_blanks_and_reveals_nothing(api: Api, db: Database) -> None:
    first = api.client.post(
        "/v1/leads",
        json={"email": "dana@acme.example", "title": "VP Sales", "territory": "East"},
        headers=api.as_("admin"),
    ).json()
    assert first["owner"] == "ann"
    again = api.client.post(
        "/v1/leads",
        json={"email": "dana@acme.example", "title": "Intern", "company": "Acme", "phone": "+1 555 0100"},
        headers=api.as_("intake"),
    )
    assert again.status_code == 200, again.text
    body = again.json()
    assert body["id"] == first["id"] and not body["new"]
    assert {k: body[k] for k in ("stage", "owner", "grade", "win_probability", "queue")} == dict.fromkeys(
        ("stage", "owner", "grade", "win_probability", "queue")
    )
    with session_scope(db.engine) as s:
        lead = s.get(Lead, first["id"])
        assert lead is not None
        assert (lead.title, lead.company, lead.phone) == ("VP Sales", "Acme", "+1 555 0100")  # blanks only
        notes = s.scalars(select(Activity.note).where(Activity.lead_id == lead.id)).all()
        assert len(notes) == 1 and "title Intern (kept VP Sales)" in (notes[0] or "")
    # an admin, who may read the lead, is answered with what it is
    shown = api.client.post("/v1/leads", json={"email": "dana@acme.example"}, headers=api.as_("admin"))
    assert shown.json()["owner"] == "ann"


def test_hostile_values_get_a_short_422_not_a_500(api: Api) -> None:
    headers = {**api.as_("intake"), "Content-Type": "application/json"}
    bodies = [
        '{"last_name": "X", "budget": NaN}',
        '{"last_name": "X", "budget": Infinity}',
        '{"last_name": "X", "annual_revenue": 1e999}',
        '{"last_name": "\\ud800"}',
        '{"last_name": "X", "extra": {"\\udc00": "y"}}',
        json.dumps({"last_name": "x" * 100_000}),
    ]
    for body in bodies:
        answer = api.client.post("/v1/leads", content=body, headers=headers)
        assert answer.status_code == 422, (body[:40], answer.text[:200])
        assert len(answer.content) < 2_000  # an excerpt of the input, never all of it


def test_aware_times_are_accepted_and_stored_in_utc(api: Api, db: Database) -> None:
    lead = api.client.post(
        "/v1/leads", json={"email": "tz@acme.example", "territory": "East"}, headers=api.as_("intake")
    ).json()
    call = {"kind": "call", "outcome": "connected", "at": "2026-01-01T02:00:00+02:00"}
    done = api.client.post(f"/v1/leads/{lead['id']}/activities", json=call, headers=api.as_("ann"))
    assert done.status_code == 201, done.text
    later = {"stage": "nurture", "follow_up_at": "2099-01-01T00:00:00Z"}
    assert (
        api.client.post(f"/v1/leads/{lead['id']}/stage", json=later, headers=api.as_("ann")).status_code
        == 200
    )
    with session_scope(db.engine) as s:
        stored = s.get(Lead, lead["id"])
        assert stored is not None and stored.first_touch_at is not None
        assert stored.first_touch_at.isoformat() == "2026-01-01T00:00:00"
        assert stored.follow_up_at is not None and stored.follow_up_at.isoformat() == "2099-01-01T00:00:00"


def test_a_body_over_the_limit_is_refused_unread(api: Api) -> None:
    huge = b'{"last_name": "' + b"x" * 2_000_000 + b'"}'
    headers = {**api.as_("intake"), "Content-Type": "application/json"}
    assert api.client.post("/v1/leads", content=huge, headers=headers).status_code == 413

    def chunks():  # type: ignore[no-untyped-def]  # no Content-Length: read up to the limit only
        yield b'{"last_name": "'
        for _ in range(30):
            yield b"x" * 100_000
        yield b'"}'

    assert api.client.post("/v1/leads", content=chunks(), headers=headers).status_code == 413


def test_api_answers_carry_security_headers(api: Api) -> None:
    answer = api.client.get("/v1/leads", headers=api.as_("admin"))
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
