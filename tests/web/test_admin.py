"""Running the team from the dashboard in a real browser: an admin adds a rep, marks them away
for a week, moves a team from round robin to merit, adds a territory rule after previewing it;
leads then captured through the API follow the new settings. A lead's BANT is edited and its
fit score moves; ten leads are reassigned from the list. A manager gets their team's pages (no
saving of company-wide rules), a rep none; every page fits a phone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from leadflow.access.service import add_user, issue_token
from leadflow.db import make_engine, session_scope
from leadflow.models import Lead, Rep, Team, utcnow
from tests.web.conftest import Site

pytestmark = pytest.mark.browser

ADMIN_PAGES = [
    ("/web/leads", "Leads"),
    ("/web/leads/new", "New lead"),
    ("/web/team", "Team"),
    ("/web/territories", "Territories"),
    ("/web/users", "Users"),
]


def _message(v: Any) -> str:
    return str(v.page.locator("p.message, p.error").first.inner_text())


def _token(site: Site) -> str:
    engine = make_engine(site.extra["db_url"])
    with session_scope(engine) as s:
        user = add_user(s, email="forms@demo.example", name="Web forms", role="intake")
        token = issue_token(s, user=user, name="test")[1]
    engine.dispose()
    return token


def _capture(site: Site, token: str, country: str, n: int, tag: str) -> list[dict[str, Any]]:
    answers = []
    for i in range(n):
        body = {"email": f"{tag}{i}@{tag}{i}.example", "company": f"{tag.title()} {i} AB", "country": country}
        answer = httpx.post(f"{site.url}/v1/leads", json=body, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 201, answer.text
        answers.append(answer.json())
    return answers


def test_an_admin_changes_how_leads_flow_and_the_next_leads_follow(visit: Any, site: Site) -> None:
    team = site.extra["team"]
    v = visit()
    v.login("admin")
    page = v.page
    # a new rep on the demo manager's team, covering a new territory
    page.goto(f"{site.url}/web/team")
    form = page.locator("form.add-rep")
    form.locator("[name=external_id]").fill("nia")
    form.locator("[name=name]").fill("Nia Novak")
    form.locator("[name=email]").fill("nia@demo.example")
    form.locator("[name=team]").select_option(team)
    form.locator("[name=territories]").fill("Nordics")
    form.locator("[name=capacity]").fill("50")
    with page.expect_navigation():
        form.locator("button").click()
    assert _message(v) == "Nia Novak added."
    assert page.locator("tr[data-rep=nia]").count() == 1
    # the territory rule for the Nordics, first, previewed then saved
    page.goto(f"{site.url}/web/territories")
    rules = page.locator("fieldset.rule")
    before = rules.count()
    blank = rules.nth(before - 1)
    blank.locator("input[name^=position_]").fill("0")
    blank.locator("input[name^=name_]").fill("Nordics")
    blank.locator("input[name^=countries_]").fill("SE, NO, DK, FI")
    with page.expect_navigation():
        page.click("button[value=preview]")
    assert "Preview" in page.locator(".preview").inner_text()
    assert page.locator("fieldset.rule").count() == before + 1  # kept as edited, not saved
    with page.expect_navigation():
        page.click("button[value=save]")
    assert _message(v).startswith("Territory rules saved (settings version")
    assert page.locator("fieldset.rule").first.get_attribute("data-rule") == "Nordics"
    # the team from round robin to merit
    page.goto(f"{site.url}/web/team")
    routing = page.locator(f"form.team-routing[data-team='{team}']")
    assert routing.locator("[name=policy]").input_value() == "round_robin"
    routing.locator("[name=policy]").select_option("merit")
    with page.expect_navigation():
        routing.locator("button").click()
    assert _message(v).startswith(f"{team} now routes by merit")
    # leads from Sweden go to Nia, the only rep of the Nordics
    token = _token(site)
    assert {a["owner"] for a in _capture(site, token, "SE", 3, "sweden")} == {"nia"}
    # Nia away for a week: the next Nordic leads wait (nobody else covers them), none goes to her
    away = page.locator("form.away-form")
    away.locator("[name=rep]").select_option("nia")
    away.locator("[name=until]").fill((utcnow() + timedelta(days=7)).date().isoformat())
    away.locator("[name=reason]").fill("holiday")
    with page.expect_navigation():
        away.locator("button").click()
    assert _message(v).startswith("Nia Novak is away")
    assert "Nia Novak" in page.locator(".calendar").inner_text()
    assert "away until" in page.locator("tr[data-rep=nia]").inner_text()
    later = _capture(site, token, "NO", 2, "norway")
    assert all(a["owner"] != "nia" for a in later)
    # the team's own leads are now dealt by merit, with the close rate in the reason
    engine = make_engine(site.extra["db_url"])
    with session_scope(engine) as s:
        territory = s.scalars(
            select(Lead.country)
            .join(Rep, Rep.id == Lead.owner_id)
            .join(Team, Team.id == Rep.team_id)
            .where(Team.name == team)
        ).first()
    engine.dispose()
    merit = _capture(site, token, territory or "US", 3, "merit")
    assert any("close rate last period" in (a["reason"] or "") for a in merit), merit
    assert v.errors == []


def test_an_admin_edits_bant_and_the_fit_score_moves(visit: Any, site: Site) -> None:
    v = visit()
    v.login("admin")
    page = v.page
    page.goto(f"{site.url}/web/leads/{site.other_lead}")
    form = page.locator("form.bant-form")
    form.locator("[name=budget]").fill("250000")
    form.locator("[name=authority]").select_option("yes")
    form.locator("[name=need]").select_option("high")
    form.locator("[name=timeline]").select_option("this quarter")
    with page.expect_navigation():
        form.locator("button").click()
    said = _message(v)
    assert said.startswith("Saved "), said
    old, new = said.rsplit("fit score ", 1)[1].rstrip(".").split(" → ")
    assert float(new) > (float(old) if old != "–" else 0), said
    assert "decision maker yes" in page.locator(".bant").inner_text()
    assert v.errors == []


def test_a_manager_reassigns_ten_leads_from_the_list(visit: Any, site: Site) -> None:
    engine = make_engine(site.extra["db_url"])
    with session_scope(engine) as s:
        team = s.scalars(select(Team).where(Team.name == site.extra["team"])).one()
        mates = select(Rep).where(
            Rep.team_id == team.id, Rep.active.is_(True), Rep.external_id != site.extra["rep"]
        )
        reps = list(s.scalars(mates.order_by(Rep.id)))
    source, target = reps[0], reps[1]
    v = visit()
    v.login("manager")
    page = v.page
    page.goto(f"{site.url}/web/leads?owner={source.external_id}&stage=lead&sort=created_at&dir=desc")
    assert "of" in page.locator("#count").inner_text()
    boxes = page.locator("#bulk input[name=lead]")
    assert boxes.count() >= 10
    ticked = [int(boxes.nth(i).get_attribute("value") or 0) for i in range(10)]
    for i in range(10):
        boxes.nth(i).check()
    page.locator("#bulk [name=action]").select_option("reassign")
    page.locator("#bulk [name=rep]").select_option(target.external_id)
    page.locator("#bulk [name=reason]").fill("covering while the owner trains")
    with page.expect_navigation():
        page.locator("#bulk button[type=submit]").click()
    assert page.locator(".ask").inner_text().strip() == f"Reassign 10 leads to {target.name}?"
    with page.expect_navigation():
        page.locator("form.confirm button[type=submit]").click()
    assert _message(v) == f"10 leads reassigned to {target.name}."
    with session_scope(engine) as s:
        owners = s.scalars(select(Lead.owner_id).where(Lead.id.in_(ticked))).all()
        assert set(owners) == {target.id}
        assert s.scalar(select(func.count()).select_from(Lead).where(Lead.id.in_(ticked))) == 10
    engine.dispose()
    assert v.errors == []


def test_a_manager_runs_their_team_and_a_rep_none_of_it(visit: Any, site: Site) -> None:
    v = visit()
    v.login("manager")
    page = v.page
    page.goto(f"{site.url}/web/team")
    assert page.locator("form.team-routing").count() == 1  # their own team only
    assert page.locator("form.add-team").count() == 0
    # another rep of theirs away until tomorrow, then back at once
    mate = page.locator("tr[data-rep]").nth(1).get_attribute("data-rep")
    away = page.locator("form.away-form")
    away.locator("[name=rep]").select_option(mate)
    away.locator("[name=until]").fill((utcnow() + timedelta(days=1)).date().isoformat())
    with page.expect_navigation():
        away.locator("button").click()
    row = page.locator(f"tr[data-rep='{mate}']")
    assert "away until" in row.inner_text()
    with page.expect_navigation():
        row.locator("button", has_text="Back now").click()
    assert "gets leads again" in _message(v)
    assert "taking leads" in page.locator(f"tr[data-rep='{mate}']").inner_text()
    # territory rules: a preview, not a save
    page.goto(f"{site.url}/web/territories")
    assert page.locator("button[value=save]").count() == 0
    with page.expect_navigation():
        page.click("button[value=preview]")
    assert "leads are waiting to be routed" in page.locator(".preview").inner_text()
    assert page.goto(f"{site.url}/web/users").status == 403  # type: ignore[union-attr]
    r = visit()
    r.login("rep")
    for path in ("/web/team", "/web/territories", "/web/leads", "/web/users", "/web/partners"):
        answer = r.page.goto(f"{site.url}{path}")
        assert answer is not None and answer.status == 403, path


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_administration_pages_fit_the_screen(visit: Any, site: Site, phone: bool) -> None:
    v = visit(phone=phone)
    v.login("admin")
    for path, heading in ADMIN_PAGES:
        answer = v.page.goto(f"{site.url}{path}")
        assert answer is not None and answer.status == 200, path
        assert v.page.locator("h1").first.inner_text() == heading
        overflow = v.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} is wider than the screen by {overflow}px"
        # no form field runs past its card or onto the next one
        clash = v.page.evaluate(
            """() => {
              for (const card of document.querySelectorAll('.card')) {
                const box = card.getBoundingClientRect();
                if (box.width === 0) continue;
                const fields = [...card.querySelectorAll('input:not([type=hidden]), select, button')]
                  .map(f => f.getBoundingClientRect())
                  .filter(r => r.width > 0);
                for (const r of fields) {
                  if (r.right > box.right + 1 || r.left < box.left - 1) return 'clipped';
                }
                for (let i = 0; i < fields.length; i++) for (let j = i + 1; j < fields.length; j++) {
                  const a = fields[i], b = fields[j];
                  const across = a.left < b.right - 1 && b.left < a.right - 1;
                  if (across && a.top < b.bottom - 1 && b.top < a.bottom - 1) return 'overlap';
                }
              }
              return null;
            }"""
        )
        assert clash is None, f"{path}: {clash}"
        v.shot(f"admin-{path.strip('/').replace('/', '-').replace('web-', '')}{'-phone' if phone else ''}")
    assert v.errors == []
