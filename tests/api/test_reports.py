"""Reports over the API: the same numbers as the services, for managers (their team) and admins."""

from __future__ import annotations

from leadflow.analytics.conversion import conversion_report
from leadflow.analytics.query.filters import ReportFilter
from leadflow.db import session_scope
from tests.api.conftest import Api
from tests.conftest import Database


def test_reports_as_json_with_the_manager_held_to_their_team(api: Api, db: Database) -> None:
    for i in range(6):
        territory = "East" if i % 2 else "West"
        created = api.client.post(
            "/v1/leads", json={"email": f"p{i}@x.example", "territory": territory}, headers=api.as_("admin")
        )
        assert created.status_code == 201
    assert db.cli("stage", "set", "1", "won", "--amount", "500")[0] == 0
    everyone = api.client.get("/v1/reports/conversion", params={"by": ["team"]}, headers=api.as_("admin"))
    assert everyone.status_code == 200
    with session_scope(db.engine) as s:
        expected = conversion_report(s, by=["team"], filters=ReportFilter()).to_dicts()
    assert everyone.json() == expected
    east = api.client.get("/v1/reports/conversion", params={"by": ["team"]}, headers=api.as_("east"))
    assert {row["team"] for row in east.json()} == {"East team"}
    assert (
        api.client.get(
            "/v1/reports/conversion", params={"team": "West team"}, headers=api.as_("east")
        ).status_code
        == 404
    )
    assert (
        api.client.get(
            "/v1/reports/conversion", params={"by": ["planet"]}, headers=api.as_("admin")
        ).status_code
        == 422
    )
    assert api.client.get("/v1/reports/reps", headers=api.as_("ann")).status_code == 403
    for name in ("reps", "cohorts", "sources", "funnel"):
        response = api.client.get(f"/v1/reports/{name}", headers=api.as_("admin"))
        assert response.status_code == 200, (name, response.text)
    funnel = api.client.get("/v1/reports/funnel", headers=api.as_("admin")).json()
    assert funnel["stages"][0]["from"] == 6
