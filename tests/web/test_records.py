"""The lead list, bulk actions, new leads, territory rules and the partner page through HTTP,
on both databases: what a manager asks for is what they get, within their team only."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from leadflow.access.service import add_user
from leadflow.db import session_scope
from leadflow.intake.capture import capture_leads
from leadflow.models import Lead, SavedView, User
from leadflow.settings import Settings
from tests.conftest import Database
from tests.web.conftest import PASSWORD, Dashboard


def _leads(db: Database, n: int) -> list[int]:
    with session_scope(db.engine) as s:
        records = [{"email": f"buyer{i}@firm{i}.example", "company": f"Firm {i:02d}", "country": "US",
                    "budget": 1000 * i} for i in range(n)]  # fmt: skip
        records.append({"email": "x@evil.example", "company": '=HYPERLINK("http://evil")'})
        return [
            c.id
            for c in capture_leads(s, settings=Settings(), records=records, channel="t", route=False).leads
        ]


def test_the_list_searches_sorts_pages_and_exports_what_it_shows(dash: Dashboard, db: Database) -> None:
    ids = _leads(db, 60)
    assert dash.login("east@example.com") == 303
    first = dash.client.get("/web/leads?sort=company&dir=asc")
    assert first.status_code == 200
    # the fixture's two leads (one is West's, not this manager's) and 61 unassigned
    assert "1–50 of 62 leads" in first.text
    assert "Globex" not in first.text
    second = dash.client.get("/web/leads?sort=company&dir=asc&page=2")
    assert "51–62 of 62 leads" in second.text and "Firm 59" in second.text
    found = dash.client.get("/web/leads?q=firm 07")
    assert "1–1 of 1 leads" in found.text
    assert dash.client.get("/web/leads?sort=password").status_code == 422
    exported = dash.client.get("/web/leads.csv?q=evil")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["company"] for r in rows] == ['\'=HYPERLINK("http://evil")']  # neutralised
    assert len(list(csv.DictReader(io.StringIO(dash.client.get("/web/leads.csv").text)))) == 62
    csrf = dash.csrf("/web/leads")
    view = {"csrf": csrf, "name": "best fit", "query": "sort=fit_score&dir=desc"}
    saved = dash.client.post("/web/leads/views", data=view, follow_redirects=False)
    assert saved.status_code == 303
    with session_scope(db.engine) as s:
        assert [(v.name, v.query) for v in s.scalars(select(SavedView))] == [
            ("best fit", "sort=fit_score&dir=desc")
        ]
    assert "best fit" in dash.client.get("/web/leads").text
    assert dash.client.get(saved.headers["location"]).status_code == 200
    assert ids


def test_a_bulk_action_confirms_then_reports_each_lead_left_alone(dash: Dashboard, db: Database) -> None:
    ids = _leads(db, 3)
    assert dash.login("east@example.com") == 303
    csrf = dash.csrf("/web/leads")
    form = {
        "csrf": csrf,
        "action": "lose",
        "reason": "no budget this year",
        "lead": [str(i) for i in ids[:3]],
    }
    form["lead"].append(str(dash.wes_lead))  # another team's lead: out of reach, dropped
    asked = dash.client.post("/web/leads/bulk", data=form)
    assert asked.status_code == 200 and "Close 3 leads as lost (no budget this year)?" in asked.text
    with session_scope(db.engine) as s:
        assert {s.get(Lead, i).stage for i in ids[:3]} == {"inquiry"}  # type: ignore[union-attr]
    done = dash.client.post("/web/leads/bulk", data=form | {"confirm": "yes"}, follow_redirects=False)
    assert done.status_code == 303
    assert "3+leads+closed+as+lost" in done.headers["location"]
    again = dash.client.post("/web/leads/bulk", data=form | {"confirm": "yes"}, follow_redirects=False)
    assert "0+leads+closed+as+lost" in again.headers["location"]
    assert "left+as+they+were" in again.headers["location"] and "already+lost" in again.headers["location"]
    with session_scope(db.engine) as s:
        assert s.get(Lead, dash.wes_lead).stage != "lost"  # type: ignore[union-attr]
    nothing = dash.client.post(
        "/web/leads/bulk", data={"csrf": csrf, "action": "lose"}, follow_redirects=False
    )
    assert "Tick+the+leads+first" in nothing.headers["location"]


def test_a_new_lead_from_the_dashboard_is_captured_like_any_other(dash: Dashboard, db: Database) -> None:
    assert dash.login("east@example.com") == 303
    csrf = dash.csrf("/web/leads/new")
    bad = dash.client.post(
        "/web/leads/new", data={"csrf": csrf, "email": "not an email", "company": "Initech"}
    )
    assert bad.status_code == 422 and "Not added" in bad.text and "email" in bad.text
    good = {"csrf": csrf, "email": "peter@initech.example", "company": "Initech", "budget": "20000",
            "authority": "yes", "need": "high", "timeline": "this quarter"}  # fmt: skip
    answer = dash.client.post("/web/leads/new", data=good, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/web/leads/")
    with session_scope(db.engine) as s:
        lead = s.scalars(select(Lead).where(Lead.company == "Initech")).one()
        assert (lead.budget, lead.authority, lead.need) == (20000, True, "high")
        assert lead.fit_score is not None and lead.fit_score >= 50
    # the same person again merges into the lead
    again = dash.client.post("/web/leads/new", data=good, follow_redirects=False)
    assert "Already+known" in again.headers["location"]


def test_territory_rules_are_previewed_by_a_manager_and_saved_by_an_admin(
    dash: Dashboard, db: Database
) -> None:
    _leads(db, 4)
    with session_scope(db.engine) as s:
        add_user(s, email="ops@example.com", name="Ops", role="admin", password=PASSWORD)
    assert dash.login("east@example.com") == 303
    csrf = dash.csrf("/web/territories")
    rules = {"csrf": csrf, "name_0": "Americas", "countries_0": "US, CA", "position_0": "1",
             "name_1": "", "countries_1": ""}  # fmt: skip
    preview = dash.client.post("/web/territories", data=rules | {"do": "preview"})
    assert preview.status_code == 200
    assert "4 would now match Americas (0 before)" in preview.text
    assert dash.client.post("/web/territories", data=rules | {"do": "save"}).status_code == 403
    bad = dash.client.post("/web/territories", data=rules | {"do": "preview", "size_min_0": "lots"})
    assert bad.status_code == 422 and "rule 1 (Americas)" in bad.text
    assert dash.login("ops@example.com") == 303
    rules["csrf"] = dash.csrf("/web/territories")
    saved = dash.client.post("/web/territories", data=rules | {"do": "save"}, follow_redirects=False)
    assert "Territory+rules+saved" in saved.headers["location"]
    assert 'data-rule="Americas"' in dash.client.get("/web/territories").text
    users = dash.client.get("/web/users")
    assert users.status_code == 200
    invited = dash.client.post("/web/users", data={"csrf": rules["csrf"], "email": "new@example.com",
                                                   "role": "rep", "rep": "eve"})  # fmt: skip
    assert invited.status_code == 200 and "shown once" in invited.text
    with session_scope(db.engine) as s:
        user = s.scalars(select(User).where(User.email == "new@example.com")).one()
        assert user.role == "rep" and user.password_hash


def test_the_partner_page_records_a_report_and_shows_the_channel(dash: Dashboard, db: Database) -> None:
    assert dash.login("east@example.com") == 303
    csrf = dash.csrf("/web/partners")
    report = {"csrf": csrf, "partner": "Northwind Distribution", "since": "2026-01-01", "until": "2026-02-01",
              "worked": "10", "won": "11", "revenue": "5000"}  # fmt: skip
    refused = dash.client.post("/web/partners/report", data=report, follow_redirects=False)
    assert "Not+recorded" in refused.headers["location"]
    kept = dash.client.post("/web/partners/report", data=report | {"won": "2"}, follow_redirects=False)
    assert "Recorded+Northwind+Distribution" in kept.headers["location"]
    page = dash.client.get("/web/partners")
    assert page.status_code == 200 and 'data-channel="Northwind Distribution"' in page.text


def test_the_sla_queue_pages_through_every_waiting_lead(dash: Dashboard, db: Database) -> None:
    from leadflow.ledger.find import find_rep
    from leadflow.pipeline.assignments import assign_lead

    ids = _leads(db, 120)
    with session_scope(db.engine) as s:
        ann = find_rep(s, ref="ann")
        for lead_id in ids:
            lead = s.get(Lead, lead_id)
            assert lead is not None
            assign_lead(s, lead=lead, rep=ann, by="test", reason="a big day")
    assert dash.login("east@example.com") == 303
    first = dash.client.get("/web/sla")
    assert "122 waiting" in first.text and "1–100 shown" in first.text and "page 1 of 2" in first.text
    second = dash.client.get("/web/sla?page=2")
    assert "101–122 shown" in second.text and second.text.count('action="/web/sla/') == 22
    assert dash.client.get("/web/sla?page=0").status_code == 422
