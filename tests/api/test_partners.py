"""The partner channel through the API: leads issued to a distributor leave the reps' queue,
the partner's aggregate results are recorded, and its conversion and ROI show beside the reps'."""

from __future__ import annotations

from leadflow.db import session_scope
from leadflow.intake.capture import capture_leads
from leadflow.models import Lead
from leadflow.routing.engine import route_leads
from leadflow.settings import Settings
from tests.api.conftest import Api
from tests.conftest import Database


def test_leads_issued_to_a_partner_count_for_it_beside_the_reps(api: Api, db: Database) -> None:
    with session_scope(db.engine) as s:
        records = [{"email": f"p{i}@shop{i}.example", "company": f"Shop {i}"} for i in range(5)]
        ids = [
            c.id
            for c in capture_leads(s, settings=Settings(), records=records, channel="t", route=False).leads
        ]
    body = {"partner": "Northwind Distribution", "reason": "small accounts go to the distributor"}
    assert (
        api.client.post(f"/v1/leads/{ids[0]}/partner", json=body, headers=api.as_("ann")).status_code == 403
    )
    for lead_id in ids[:4]:
        answer = api.client.post(f"/v1/leads/{lead_id}/partner", json=body, headers=api.as_("admin"))
        assert answer.status_code == 201, answer.text
    missing = api.client.post("/v1/leads/999999/partner", json=body, headers=api.as_("admin"))
    assert missing.status_code == 404
    report = {"period_start": "2026-01-01T00:00:00", "period_end": "2099-01-01T00:00:00", "leads_worked": 4,
              "won": 1, "revenue": 12000}  # fmt: skip
    bad = api.client.post("/v1/partners/Northwind Distribution/reports", json=report | {"won": 9},
                          headers=api.as_("admin"))  # fmt: skip
    assert bad.status_code == 422 and "cannot exceed" in bad.text
    kept = api.client.post(
        "/v1/partners/Northwind Distribution/reports", json=report, headers=api.as_("east")
    )
    assert kept.status_code == 201, kept.text
    with session_scope(db.engine) as s:
        # issued leads are not the reps' to route; the fifth is
        plan = route_leads(s, settings=Settings(), dry_run=True)
        assert {d.lead_id for d in plan.decisions} == {ids[4]}
        assert all(s.get(Lead, i).owner_id is None for i in ids[:4])  # type: ignore[union-attr]
    table = api.client.get("/v1/reports/partners", headers=api.as_("admin")).json()
    partner = next(row for row in table if row["name"] == "Northwind Distribution")
    assert (partner["issued"], partner["won"], partner["revenue"]) == (4, 1, 12000)
    assert partner["conversion"] == 0.25 and partner["conversion_low"] < 0.25 < partner["conversion_high"]
    assert api.client.get("/v1/reports/partners", headers=api.as_("ann")).status_code == 403
