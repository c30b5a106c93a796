"""`leadflow demo` prints a manager's and a rep's logins, and they work."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from leadflow.access.service import check_password
from leadflow.app import create_app
from leadflow.db import session_scope
from leadflow.models import Lead, User
from leadflow.settings import Settings
from tests.conftest import Database


def test_demo_logins_work(db: Database) -> None:
    code, out, err = db.cli("demo", "--leads", "2000", "--reps", "6", "--seed", "2")
    assert code == 0, err
    logins = dict(
        (role, (email, password, token))
        for role, email, password, token in re.findall(
            r"(admin|manager|rep)\s+(\S+)\s+password (\S+)\s+API token (\S+)", out
        )
    )
    assert set(logins) == {"admin", "manager", "rep"}
    client = TestClient(create_app(engine=db.engine, settings=Settings()))
    email, password, token = logins["rep"]
    with session_scope(db.engine) as s:
        assert check_password(s, email=email, password=password) is not None
        assert check_password(s, email=email, password=password + "x") is None
        rep = s.scalars(select(User).where(User.email == email)).one()
        own = s.scalars(select(Lead.id).where(Lead.owner_id == rep.rep_id)).first()
        other = s.scalars(select(Lead.id).where(Lead.owner_id != rep.rep_id)).first()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/v1/leads/{own}", headers=headers).status_code == 200
    assert client.get(f"/v1/leads/{other}", headers=headers).status_code == 404
    manager_token = logins["manager"][2]
    reps = client.get("/v1/reports/reps", headers={"Authorization": f"Bearer {manager_token}"})
    assert reps.status_code == 200 and reps.json()["reps"]
