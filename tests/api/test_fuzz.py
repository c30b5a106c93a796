"""Property: no request to any operation in /openapi.json, with any role and malformed path,
query or body, or with hostile values in its real fields, gets a 500."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from leadflow.db import session_scope
from leadflow.models import Lead
from tests.api.conftest import Api
from tests.conftest import Database

junk = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20), st.sampled_from(["", "-1", "0", "9" * 30, "2026-13-45", "rep", "East team", "%00"]),
)  # fmt: skip
bodies = st.recursive(
    junk,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=12), c, max_size=4),
    max_leaves=8,
)
names = st.sampled_from(["stage", "since", "until", "team", "by", "limit", "cursor", "policy", "status",
                         "dry_run", "rep", "reason", "budget", "email", "kind", "amount", "x"])  # fmt: skip


def _operations(api: Api) -> list[tuple[str, str]]:
    spec = api.client.get("/openapi.json").json()
    return sorted((method.upper(), path) for path, item in spec["paths"].items() for method in item)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_malformed_request_to_any_operation_gets_a_500(api: Api, data: Any) -> None:
    method, path = data.draw(st.sampled_from(_operations(api)))
    filled = re.sub(r"\{[^}]+\}", lambda _: quote(str(data.draw(junk)), safe="") or "0", path)
    query = data.draw(st.dictionaries(names, junk.map(str), max_size=3))
    role = data.draw(st.sampled_from(["admin", "east", "ann", "intake", "nobody"]))
    headers = api.as_(role) if role != "nobody" else {}
    body = data.draw(bodies) if method in ("POST", "PATCH", "PUT") else None
    response = api.client.request(method, filled, params=query, json=body, headers=headers)
    assert response.status_code < 500, (method, filled, query, body, response.text[:300])


hostile = st.one_of(
    st.sampled_from([
        float("nan"), float("inf"), float("-inf"), "\ud800", "a\udfffb", "a\u0000b", "x" * 10_000,
        "=HYPERLINK(1)", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00+05:30", "2026-01-01T00:00:00",
        "2026-01-01", -1, -1e9, 2**63, 10**400, "", None, True, [], {},
    ]),
    st.text(max_size=30),
    st.floats(),
    st.integers(),
)  # fmt: skip


def _fields(api: Api) -> list[str]:
    schemas = api.client.get("/openapi.json").json()["components"]["schemas"]
    return sorted({name for schema in schemas.values() for name in schema.get("properties", {})})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_hostile_value_in_any_field_of_any_operation_gets_a_500(api: Api, data: Any) -> None:
    """Real field names with hostile values: NaN and infinities, lone surrogates, NUL, huge
    strings, aware and naive times, negative and huge numbers; for every operation and role."""
    method, path = data.draw(st.sampled_from(_operations(api)))
    filled = re.sub(
        r"\{[^}]+\}", lambda _: data.draw(st.sampled_from(["1", "L1", "ann@example.com", "x"])), path
    )
    fields = _fields(api)
    role = data.draw(st.sampled_from(["admin", "east", "ann", "intake"]))
    body = data.draw(st.dictionaries(st.sampled_from(fields), hostile, max_size=5))
    if data.draw(st.booleans()):
        body = {"extra": body} | {"email": "fuzz@firm.example"}
    query = data.draw(st.dictionaries(names, hostile, max_size=2))
    # percent-encoded as a raw client would send them, lone surrogates as their UTF-8-like bytes
    encoded = "&".join(f"{k}={quote(str(v).encode('utf-8', 'surrogatepass'))}" for k, v in query.items())
    content = json.dumps(body) if method in ("POST", "PATCH", "PUT") else None
    headers = {**api.as_(role), "Content-Type": "application/json"}
    url = f"{filled}?{encoded}" if encoded else filled
    response = api.client.request(method, url, content=content, headers=headers)
    assert response.status_code < 500, (method, filled, query, body, response.text[:300])


def test_ids_beyond_any_row_are_not_found_not_a_database_error(api: Api) -> None:
    huge = "9" * 30
    for path in (f"/v1/leads/{huge}", f"/v1/leads/{2**31}", f"/v1/leads/{huge}/story"):
        assert api.client.get(path, headers=api.as_("admin")).status_code == 404, path
    assert api.client.get(f"/v1/leads?cursor={huge}", headers=api.as_("admin")).status_code == 422


def test_a_nul_character_anywhere_is_the_requests_fault(api: Api, db: Database) -> None:
    """PostgreSQL stores no NUL in text: there, a NUL in a path, a query, a body or a header is a
    422 that writes nothing (found by the property above); SQLite takes it."""
    admin = api.as_("admin")
    with session_scope(db.engine) as s:
        leads = s.scalar(select(func.count()).select_from(Lead))
    answers = {
        "path": api.client.get("/v1/leads/a%00b", headers=admin),
        "query": api.client.get("/v1/reports/conversion?source=%00", headers=admin),
        "body": api.client.post(
            "/v1/leads", json={"email": "nul@firm.example", "company": "A\u0000B"}, headers=admin
        ),
        "header": api.client.post(
            "/v1/leads", json={"email": "key@firm.example"}, headers={**admin, "Idempotency-Key": "k\u0000"}
        ),
    }
    for where, answer in answers.items():
        if db.kind == "postgresql":
            assert answer.status_code == 422 and "NUL" in answer.json()["detail"], (where, answer.text)
        else:
            assert answer.status_code < 500, (where, answer.text)
    if db.kind == "postgresql":
        with session_scope(db.engine) as s:
            assert s.scalar(select(func.count()).select_from(Lead)) == leads
