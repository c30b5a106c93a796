"""Dashboard login, sessions, CSRF and scope through HTTP, on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from leadflow.db import session_scope
from leadflow.ledger.find import find_rep
from leadflow.models import Activity, AuditEntry, Lead, SlaEvent, utcnow
from tests.conftest import Database
from tests.web.conftest import PASSWORD, Dashboard


def test_login_needs_the_right_password_and_a_dashboard_role(dash: Dashboard) -> None:
    assert dash.client.get("/web/", follow_redirects=False).headers["location"] == "/web/login"
    assert dash.login("east@example.com", "wrong password") == 401
    assert "lf_session" not in dash.client.cookies
    assert dash.login("forms@example.com") == 401  # intake only captures leads
    assert dash.login("east@example.com") == 303
    assert dash.client.get("/web/").status_code == 200


def test_login_form_without_its_csrf_cookie_is_refused(dash: Dashboard) -> None:
    answer = dash.client.post(
        "/web/login", data={"email": "east@example.com", "password": PASSWORD, "csrf": "guess"},
        follow_redirects=False,
    )  # fmt: skip
    assert answer.status_code == 403 and "lf_session" not in answer.cookies


def test_a_form_without_the_sessions_csrf_token_writes_nothing(dash: Dashboard, db: Database) -> None:
    assert dash.login("ann@example.com") == 303
    path = f"/web/leads/{dash.ann_lead}/activity"
    for forged in ("", "0" * 64):
        answer = dash.client.post(path, data={"kind": "call", "csrf": forged}, follow_redirects=False)
        assert answer.status_code in (403, 422)
    with session_scope(db.engine) as s:
        assert s.scalars(select(Activity).where(Activity.lead_id == dash.ann_lead)).first() is None
    csrf = dash.csrf("/web/my")
    answer = dash.client.post(
        path + "?back=my", data={"kind": "call", "outcome": "connected", "csrf": csrf}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"].startswith("/web/my?message=")
    with session_scope(db.engine) as s:
        lead = s.get(Lead, dash.ann_lead)
        assert lead is not None and lead.first_touch_at is not None
        audit = s.scalars(select(AuditEntry).where(AuditEntry.entity_id == str(dash.ann_lead))).all()
        assert [a.action for a in audit] == ["log activity"] and audit[0].actor == "ann@example.com"


def test_a_rep_sees_only_their_own_leads(dash: Dashboard) -> None:
    dash.login("ann@example.com")
    own = dash.client.get(f"/web/leads/{dash.ann_lead}")
    assert own.status_code == 200
    assert "<dd>Ann Lee (ann) since " in own.text  # the owner by name, with the id the CSVs use
    assert dash.client.get(f"/web/leads/{dash.wes_lead}").status_code == 404
    assert dash.client.get(f"/web/leads/{'9' * 30}").status_code == 422  # no row has such an id
    csrf = dash.csrf("/web/my")
    answer = dash.client.post(f"/web/leads/{dash.wes_lead}/activity", data={"kind": "call", "csrf": csrf})
    assert answer.status_code == 404
    assert dash.client.get("/web/sla").status_code == 403


def test_a_manager_reassigns_an_untouched_lead_of_their_team_only(dash: Dashboard, db: Database) -> None:
    dash.login("east@example.com")
    page = dash.client.get("/web/sla").text
    assert "Acme" in page and "Globex" not in page  # West's lead is not in East's queue
    # filtered to one owner, to what is late, to the backlog of misses older than three days
    assert "Acme" in dash.client.get("/web/sla?rep=ann").text
    assert "No waiting lead matches the filter." in dash.client.get("/web/sla?rep=wes").text
    with session_scope(db.engine) as s:
        fresh = s.get(Lead, dash.ann_lead)
        assert fresh is not None
        fresh.assigned_at = utcnow()  # due in hours: neither late nor backlog
    assert "Acme" not in dash.client.get("/web/sla?show=overdue").text
    with session_scope(db.engine) as s:
        stale = s.get(Lead, dash.ann_lead)
        assert stale is not None
        stale.assigned_at = utcnow() - timedelta(days=12)  # missed by over a week
    assert "Acme" in dash.client.get("/web/sla?show=overdue").text
    assert "Acme" in dash.client.get("/web/sla?show=backlog").text
    csrf = dash.csrf("/web/sla")
    assert dash.client.post(f"/web/sla/{dash.wes_lead}/reassign", data={"csrf": csrf}).status_code == 404
    answer = dash.client.post(
        f"/web/sla/{dash.ann_lead}/reassign", data={"csrf": csrf}, follow_redirects=False
    )
    assert answer.status_code == 303
    with session_scope(db.engine) as s:
        lead = s.get(Lead, dash.ann_lead)
        ann = find_rep(s, ref="ann")
        assert lead is not None and lead.owner_id != ann.id
        miss = s.scalars(select(SlaEvent).where(SlaEvent.lead_id == dash.ann_lead)).one()
        assert miss.kind == "reassigned" and miss.rep_id == ann.id  # the miss stays on Ann's record
    again = dash.client.post(f"/web/sla/{dash.ann_lead}/reassign", data={"csrf": csrf})
    assert again.status_code in (404, 409)  # no longer Ann's untouched lead


def test_plotly_is_served_from_the_installed_package(dash: Dashboard) -> None:
    import plotly

    script = dash.client.get("/web/static/plotly.min.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert f"v{plotly.__version__}".encode() in script.content[:2000] or b"plotly.js" in script.content[:2000]
    assert dash.client.get("/web/static/../../etc/passwd").status_code == 404


def test_pages_show_no_interval_where_no_lead_has_closed(dash: Dashboard) -> None:
    dash.login("east@example.com")  # two leads given out, neither closed: conversion is unknown
    for path in ("/web/", "/web/reps", "/web/sources", "/web/funnel"):
        page = dash.client.get(path).text
        assert "–––" not in page, path  # no "– to –" interval for an unknown share
    assert "no closed leads yet" in dash.client.get("/web/").text


def test_repeated_wrong_passwords_lock_the_account_and_are_logged(
    dash: Dashboard, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="leadflow.auth"):
        for _ in range(5):
            assert dash.login("east@example.com", "wrong password") == 401
    logged = [r for r in caplog.records if r.name == "leadflow.auth"]
    assert len(logged) == 5 and logged[0].account == "east@example.com" and logged[0].address  # type: ignore[attr-defined]
    assert dash.login("east@example.com") == 429  # the right password, refused while locked
    assert dash.login("ann@example.com") == 303  # another account from the same address still signs in


def test_a_disabled_user_is_signed_out_everywhere_at_once(dash: Dashboard, db: Database) -> None:
    assert dash.login("ann@example.com") == 303
    assert dash.client.get("/web/my", follow_redirects=False).status_code == 200
    code, _, err = db.cli("users", "disable", "ann@example.com")
    assert code == 0, err
    assert dash.client.get("/web/my", follow_redirects=False).status_code == 303  # the session ended
    assert dash.login("ann@example.com") == 401
    assert db.cli("users", "enable", "ann@example.com")[0] == 0
    assert dash.login("ann@example.com") == 303


def test_a_dashboard_session_and_an_api_token_do_not_stand_in_for_each_other(
    dash: Dashboard, db: Database
) -> None:
    from leadflow.access.service import find_user, issue_token

    with session_scope(db.engine) as s:
        _, token = issue_token(s, user=find_user(s, email="ann@example.com"), name="t")
    dash.client.cookies.clear()
    dash.client.cookies.set("lf_session", token)
    assert dash.client.get("/web/my", follow_redirects=False).status_code == 303
    assert dash.login("ann@example.com") == 303
    session_token = dash.client.cookies.get("lf_session")
    assert session_token
    answer = dash.client.get("/v1/leads", headers={"Authorization": f"Bearer {session_token}"})
    assert answer.status_code == 401
