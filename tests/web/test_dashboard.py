"""The dashboard in a real browser: a manager sees every page with its charts and no error, a rep
works a lead from "my leads", and a rep cannot open another rep's lead."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.conftest import Site

pytestmark = pytest.mark.browser

# page, heading, charts it draws on the demo company
MANAGER_PAGES = [
    ("/web/", "Overview", 2),
    ("/web/reps", "Reps: weak leads or weak closer?", 3),
    ("/web/sources", "Sources: what they cost and what they bring", 2),
    ("/web/funnel", "Funnel and time to close", 3),
    ("/web/sla", "SLA queue: leads waiting for their first touch", 0),
    ("/web/coaching", "Coaching", 0),
    ("/web/routing", "Routing", 1),
    ("/web/partners", "Partners beside the direct reps", 1),
]


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_manager_sees_every_page_with_charts_and_no_error(visit: Any, site: Site, phone: bool) -> None:
    v = visit(phone=phone)
    v.login("manager")
    assert v.page.url.endswith("/web/")
    for path, heading, charts in MANAGER_PAGES:
        response = v.page.goto(f"{site.url}{path}")
        assert response is not None and response.status == 200, path
        v.page.wait_for_load_state("networkidle")
        assert v.page.locator("h1").first.inner_text() == heading
        # each chart drawn by Plotly in the browser (an svg inside each figure's div)
        assert v.page.locator(".plotly-graph-div .main-svg").count() >= charts, path
        assert v.page.locator(".plotly-graph-div").count() == charts, path
        # every chart is titled, and its whole title shows: on a phone it wraps, inside the chart
        titles = v.page.locator(".chart > .chart-title")
        assert titles.count() == charts, path
        for title in titles.all():
            assert title.inner_text().strip(), path
            assert title.evaluate("t => t.scrollWidth <= t.clientWidth"), f"{path}: {title.inner_text()}"
        if phone:
            overflow = v.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{path} is wider than a phone by {overflow}px"
        name = path.strip("/").replace("/", "-").replace("web-", "") or "overview"
        v.shot(f"manager-{'overview' if name == 'web' else name}{'-phone' if phone else ''}")
    assert v.errors == []
    assert v.outside == [], "pages must not fetch anything from elsewhere"


def test_rep_logs_a_call_and_the_lead_moves_on(visit: Any, site: Site) -> None:
    v = visit()
    v.login("rep")
    assert v.page.url.endswith("/web/my")
    fresh = v.page.locator(f"li.lead[data-lead='{site.fresh_lead}']")
    assert "first touch due" in fresh.locator(".next").inner_text()
    v.shot("rep-my-leads")
    with v.page.expect_navigation():
        fresh.get_by_role("button", name="Call: connected").click()
    assert "Logged call: connected on Analytical Engines" in v.page.locator(".message").inner_text()
    moved = v.page.locator(f"li.lead[data-lead='{site.fresh_lead}']")
    assert "first touch due" not in moved.locator(".next").inner_text()
    v.page.goto(f"{site.url}/web/leads/{site.fresh_lead}")
    assert "call, connected" in v.page.locator("ul.activities").inner_text()
    # no stage is chosen for the rep, and the stages come in the pipeline's order
    stage = v.page.locator("select[name=stage]")
    assert stage.input_value() == ""
    assert stage.locator("option:not([disabled])").all_inner_texts() == [
        "qualified", "opportunity", "nurture", "lost", "won", "disqualified"
    ]  # fmt: skip
    v.page.get_by_role("button", name="Save", exact=True).click()  # the browser asks for a stage first
    assert v.page.locator("h1 .stage").inner_text() == "lead"
    v.page.select_option("select[name=stage]", "qualified")
    with v.page.expect_navigation():
        v.page.get_by_role("button", name="Save", exact=True).click()
    assert v.page.locator("h1 .stage").inner_text() == "qualified"
    v.shot("rep-lead")
    assert v.errors == []


def test_rep_cannot_open_another_reps_lead_nor_manager_pages(visit: Any, site: Site) -> None:
    v = visit()
    v.login("rep")
    response = v.page.goto(f"{site.url}/web/leads/{site.other_lead}")
    assert response is not None and response.status == 404
    assert v.page.locator("h1").inner_text() == "Not found"
    response = v.page.goto(f"{site.url}/web/reps")
    assert response is not None and response.status == 403


def test_logging_out_ends_the_session(visit: Any, site: Site) -> None:
    v = visit()
    v.login("manager")
    cookie = next(c for c in v.context.cookies() if c["name"] == "lf_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    with v.page.expect_navigation():
        v.page.get_by_role("button", name="Log out").click()
    assert v.page.url.endswith("/web/login")
    # the old cookie no longer opens anything, even if a copy of it was kept
    v.context.add_cookies([{**cookie}])
    v.page.goto(f"{site.url}/web/")
    assert v.page.url.endswith("/web/login")
