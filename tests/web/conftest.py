"""A real leadflow server on loopback over a small demo company, and the system Chromium driven
by Playwright. Screenshots go to test-artifacts/screenshots/ (kept by CI as artefacts)."""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from leadflow.access.service import add_user
from leadflow.app import create_app
from leadflow.cli import app as cli_app
from leadflow.db import make_engine, session_scope
from leadflow.intake.capture import capture_leads
from leadflow.ledger.find import find_rep
from leadflow.models import Lead, Rep, Team, User
from leadflow.pipeline.assignments import assign_lead
from leadflow.settings import Settings
from tests.conftest import Database

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Without these, Chromium reaches for Google's hosts at start; this machine's network refuses them.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync",
                 "--disable-component-update", "--no-first-run", "--disable-quic"]  # fmt: skip


@dataclass
class Site:
    """The running server and the demo's logins."""

    url: str
    logins: dict[str, tuple[str, str]]  # role -> (email, password)
    fresh_lead: int  # a new lead of the demo rep's, waiting for its first touch
    other_lead: int  # a lead of another rep
    extra: dict[str, Any] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def site(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    path = tmp_path_factory.mktemp("web") / "web.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    runner = CliRunner()
    demo = runner.invoke(cli_app, ["--db", url, "demo", "--leads", "3000", "--reps", "6", "--seed", "3"])
    assert demo.exit_code == 0, demo.output
    scored = runner.invoke(cli_app, ["--db", url, "score", "--train", "--all"])
    assert scored.exit_code == 0, scored.output
    logins = {role: (email, password) for role, email, password in
              re.findall(r"(admin|manager|rep)\s+(\S+)\s+password (\S+)", demo.stdout)}  # fmt: skip
    engine = make_engine(url)
    settings = Settings()
    with session_scope(engine) as s:
        rep_user = s.scalars(select(User).where(User.email == logins["rep"][0])).one()
        rep = s.get(Rep, rep_user.rep_id)
        assert rep is not None
        record = {"email": "ada@analytical-engines.example", "first_name": "Ada", "last_name": "Byron",
                  "company": "Analytical Engines", "country": "GB", "lead_type": "web form"}  # fmt: skip
        captured = capture_leads(s, settings=settings, records=[record], channel="test", route=False)
        fresh = s.get(Lead, captured.leads[0].id)
        assert fresh is not None
        assign_lead(s, lead=fresh, rep=rep, by="test", reason="the rep's new lead for the browser test")
        other = s.scalars(select(Lead.id).where(Lead.owner_id != rep.id)).first()
        assert other is not None
        fresh_id = fresh.id
        team = s.get(Team, rep.team_id)
        assert team is not None
        demo_rep = {"rep_name": rep.name, "rep": rep.external_id, "team": team.name, "db_url": url}
    config = uvicorn.Config(
        create_app(engine=engine, settings=settings), host="127.0.0.1", port=_free_port(), log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    port = server.config.port
    yield Site(f"http://127.0.0.1:{port}", logins, fresh_id, other, demo_rep)
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


@pytest.fixture(scope="package")  # its event loop ends with tests/web, before other tests need theirs
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("browser tests need the system Chromium (.ci/run installs it: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


class Visit:
    """A browser tab that records console errors, page errors and requests that leave loopback."""

    def __init__(self, browser: Any, site: Site, *, phone: bool = False) -> None:
        size = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 900}
        self.context = browser.new_context(viewport=size)
        self.page = self.context.new_page()
        self.site = site
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on(
            "response", lambda r: self.errors.append(f"{r.status} {r.url}") if r.status >= 400 else None
        )
        local = (site.url, "data:", "blob:", "about:")
        self.page.on("request", lambda r: None if r.url.startswith(local) else self.outside.append(r.url))

    def login(self, role: str) -> None:
        email, password = self.site.logins[role]
        self.page.goto(f"{self.site.url}/web/login")
        self.page.fill("input[name=email]", email)
        self.page.fill("input[name=password]", password)
        with self.page.expect_navigation():
            self.page.click("button[type=submit]")
        self.page.wait_for_load_state("networkidle")

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser: Any, site: Site) -> Iterator[Any]:
    opened: list[Visit] = []

    def open_(phone: bool = False) -> Visit:
        opened.append(Visit(browser, site, phone=phone))
        return opened[-1]

    yield open_
    for v in opened:
        v.close()


PASSWORD = "correct horse battery"
REPS = [
    ["external_id", "name", "team", "territory", "capacity"],
    ["ann", "Ann Lee", "East team", "East", "10"],
    ["eve", "Eve Ng", "East team", "East", "10"],
    ["wes", "Wes Tern", "West team", "West", "10"],
]


@dataclass
class Dashboard:
    client: TestClient
    ann_lead: int  # Ann's, untouched
    wes_lead: int  # Wes's, untouched

    def login(self, email: str, password: str = PASSWORD) -> int:
        self.client.cookies.clear()
        form = self.client.get("/web/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        answer = self.client.post(
            "/web/login", data={"email": email, "password": password, "csrf": csrf.group(1)},
            follow_redirects=False,
        )  # fmt: skip
        return answer.status_code

    def csrf(self, path: str) -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', self.client.get(path).text)
        assert found is not None
        return found.group(1)


@pytest.fixture
def dash(db: Database, write_csv) -> Iterator[Dashboard]:  # type: ignore[no-untyped-def]
    assert db.cli("reps", "import", str(write_csv("reps.csv", REPS)))[0] == 0
    settings = Settings()
    with session_scope(db.engine) as s:
        east = s.scalars(select(Team).where(Team.name == "East team")).one()
        ann, wes = find_rep(s, ref="ann"), find_rep(s, ref="wes")
        add_user(s, email="ann@example.com", name="Ann", role="rep", rep=ann, password=PASSWORD)
        add_user(s, email="east@example.com", name="East", role="manager", team=east, password=PASSWORD)
        add_user(s, email="forms@example.com", name="Forms", role="intake", password=PASSWORD)
        records = [
            {"email": "a@acme.example", "company": "Acme"},
            {"email": "w@globex.example", "company": "Globex"},
        ]
        leads = capture_leads(s, settings=settings, records=records, channel="test", route=False).leads
        owned = []
        for captured, rep in zip(leads, (ann, wes), strict=True):
            lead = s.get(Lead, captured.id)
            assert lead is not None
            assign_lead(s, lead=lead, rep=rep, by="test", reason="test")
            owned.append(lead.id)
    yield Dashboard(TestClient(create_app(engine=db.engine, settings=settings)), *owned)
