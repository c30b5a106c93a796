"""A client over a fresh database of each kind, with a user and a token for each role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from leadflow.access.service import add_user, issue_token
from leadflow.app import create_app
from leadflow.db import session_scope
from leadflow.ledger.find import find_rep
from leadflow.models import Team
from leadflow.settings import Settings
from tests.conftest import Database

REPS = [
    ["external_id", "name", "team", "territory", "capacity"],
    ["ann", "Ann Lee", "East team", "East", "10"],
    ["wes", "Wes Tern", "West team", "West", "10"],
]


class Api:
    """A client over a fresh database with a token for each role."""

    def __init__(self, db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
        assert db.cli("reps", "import", str(write_csv("reps.csv", REPS)))[0] == 0
        self.client = TestClient(create_app(engine=db.engine, settings=Settings()))
        self.tokens: dict[str, str] = {}
        with session_scope(db.engine) as s:
            east = s.scalars(select(Team).where(Team.name == "East team")).one()
            users = {
                "admin": add_user(s, email="boss@example.com", name="Boss", role="admin"),
                "intake": add_user(s, email="forms@example.com", name="Forms", role="intake"),
                "ann": add_user(
                    s, email="ann@example.com", name="Ann", role="rep", rep=find_rep(s, ref="ann")
                ),
                "wes": add_user(
                    s, email="wes@example.com", name="Wes", role="rep", rep=find_rep(s, ref="wes")
                ),
                "east": add_user(s, email="east@example.com", name="East", role="manager", team=east),
            }
            for key, user in users.items():
                self.tokens[key] = issue_token(s, user=user, name="test")[1]

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
def api(db: Database, write_csv) -> Iterator[Api]:  # type: ignore[no-untyped-def]
    yield Api(db, write_csv)
