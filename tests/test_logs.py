"""Structured logs: each request logged as JSON with its method, path, status and duration."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from leadflow.app import create_app
from leadflow.logs import JsonFormatter
from leadflow.settings import Settings
from tests.conftest import Database


def test_each_request_is_one_json_line_with_its_fields(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    client = TestClient(create_app(engine=db.engine, settings=Settings()))
    with caplog.at_level(logging.INFO, logger="leadflow.http"):
        assert client.get("/healthz").status_code == 200
        assert client.get("/v1/leads").status_code == 401
    records = [r for r in caplog.records if r.name == "leadflow.http"]
    lines = [json.loads(JsonFormatter().format(r)) for r in records]
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("GET", "/healthz", 200),
        ("GET", "/v1/leads", 401),
    ]
    assert all(
        line["level"] == "info" and line["ms"] >= 0 and line["time"].endswith("+00:00") for line in lines
    )


def test_an_error_keeps_its_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("leadflow.test").makeRecord(
            "leadflow.test",
            logging.ERROR,
            __file__,
            1,
            "failed %s",
            ("x",),
            exc_info=__import__("sys").exc_info(),
        )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "failed x" and "ValueError: boom" in line["error"]
