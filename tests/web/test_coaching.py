"""Coaching in a real browser: a manager sets a goal and records a session from the page, the
follow-up waits in the queue until done, the rep sees their goal on "my leads", at desktop and
phone width; a rep cannot open the page."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.web.conftest import Site

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_a_manager_coaches_from_the_page_and_the_rep_sees_the_goal(
    visit: Any, site: Site, phone: bool
) -> None:
    rep_name, target = site.extra["rep_name"], "7" if phone else "9"
    v = visit(phone=phone)
    v.login("manager")
    v.page.goto(f"{site.url}/web/coaching")
    assert v.page.locator("h1").inner_text() == "Coaching"
    form = v.page.locator("form.goal")
    form.locator("select[name=rep]").select_option(label=rep_name)
    form.locator("select[name=metric]").select_option("wins")
    form.locator("input[name=target]").fill(target)
    with v.page.expect_navigation():
        form.get_by_role("button", name="Set goal").click()
    assert f"Goal set: {rep_name}, deals won {target}." in v.page.locator(".message").inner_text()
    row = v.page.locator("table.scorecard tbody tr", has_text="deals won")
    assert rep_name in row.first.inner_text() and target in row.first.inner_text()

    note = v.page.locator("form.note-form")
    note.locator("select[name=rep]").select_option(label=rep_name)
    discussed = "first touches after a day" + (" (phone)" if phone else "")
    note.locator("textarea[name=discussed]").fill(discussed)
    note.locator("input[name=follow_up]").fill((date.today() - timedelta(days=1)).isoformat())
    with v.page.expect_navigation():
        note.get_by_role("button", name="Save note").click()
    due = v.page.locator("li[data-note]", has_text=discussed)
    assert due.count() == 1 and rep_name in due.inner_text()
    if phone:
        overflow = v.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"the coaching page is wider than a phone by {overflow}px"
    v.shot(f"manager-coaching{'-phone' if phone else ''}")
    # the rep's trend beside the team's, one chart a metric, as a phone can show it
    v.page.locator("form.inline select[name=rep]").select_option(label=rep_name)
    with v.page.expect_navigation():
        v.page.get_by_role("button", name="Show trend").click()
    v.page.wait_for_selector(".plotly-graph-div .main-svg")
    assert f"{rep_name} against the team by month" in v.page.content()
    if phone:
        overflow = v.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"the trend is wider than a phone by {overflow}px"
    due = v.page.locator("li[data-note]", has_text=discussed)
    with v.page.expect_navigation():
        due.get_by_role("button", name="Done").click()
    assert "Followed up with" in v.page.locator(".message").inner_text()
    assert v.page.locator("li[data-note]", has_text=discussed).count() == 0
    assert v.errors == []

    r = visit(phone=phone)
    r.login("rep")
    goal = r.page.locator("section.goals li", has_text="deals won")
    assert goal.count() == 1 and f"of {float(target):.1f}" in goal.inner_text()
    # and what was agreed with them, in their own words
    assert r.page.locator("section.coaching-notes li", has_text=discussed).count() == 1
    r.shot(f"rep-goals{'-phone' if phone else ''}")
    assert r.page.goto(f"{site.url}/web/coaching").status == 403  # type: ignore[union-attr]
