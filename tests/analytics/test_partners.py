"""The partner channel: issued leads leave the reps' queue; aggregate reports give conversion and ROI."""

from __future__ import annotations

import io
import math

import polars as pl
import pytest

from leadflow.analytics.partners import partners_report
from leadflow.analytics.query.filters import ReportFilter
from leadflow.db import session_scope
from tests.conftest import Database


def wilson(won: float, n: float, z: float = 1.959963984540054) -> tuple[float, float]:
    p = won / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_partner_conversion_and_roi_beside_the_direct_reps(db: Database, write_csv) -> None:  # type: ignore[no-untyped-def]
    reps = [["external_id", "name", "territory"], ["ann", "Ann Lee", "East"]]
    sources = [["name", "cost_per_lead"], ["Web form", "40"]]
    leads = [["external_id", "created_at", "source", "territory"]] + [
        [f"L{i}", "2026-05-02", "Web form", "East"] for i in range(12)
    ]
    assert db.cli("reps", "import", str(write_csv("r.csv", reps)))[0] == 0
    assert db.cli("sources", "import", str(write_csv("s.csv", sources)))[0] == 0
    assert db.cli("leads", "import", str(write_csv("l.csv", leads)))[0] == 0
    for i in range(10):
        code, _, err = db.cli("assign", f"L{i}", "--partner", "Acme Distribution", "--reason", "far away")
        assert code == 0, err
    assert db.cli("assign", "L0", "--reason", "nobody")[0] == 2  # a rep or a partner, not neither
    # the partner's leads are not routed to reps; the other two are
    assert db.cli("route")[0] == 0
    listed = pl.read_csv(io.StringIO(db.cli("leads", "list", "--format", "csv")[1]))
    owned = listed.filter(pl.col("owner").is_not_null())["external_id"].to_list()
    assert sorted(owned) == ["L10", "L11"]
    assert db.cli("stage", "set", "L10", "won", "--amount", "1000")[0] == 0
    code, _, err = db.cli(
        "partners", "report", "acme distribution", "--from", "2026-05-01", "--to", "2026-06-01",
        "--worked", "8", "--won", "3", "--revenue", "30000",
    )  # fmt: skip
    assert code == 0, err
    bad = db.cli("partners", "report", "Acme Distribution", "--from", "2026-05-01", "--to", "2026-06-01",
                 "--worked", "2", "--won", "3", "--revenue", "0")  # fmt: skip
    assert bad[0] == 1 and "cannot exceed" in bad[2]
    with session_scope(db.engine) as s:
        table = partners_report(s, filters=ReportFilter())
    rows = {r["name"]: r for r in table.iter_rows(named=True)}
    acme, direct = rows["Acme Distribution"], rows["direct reps"]
    assert (acme["issued"], acme["worked"], acme["won"], acme["revenue"]) == (10, 8, 3, 30000)
    assert acme["cost"] == pytest.approx(400) and acme["roi"] == pytest.approx((30000 - 400) / 400)
    assert (acme["conversion_low"], acme["conversion_high"]) == pytest.approx(wilson(3, 10))
    assert (direct["issued"], direct["won"], direct["revenue"]) == (2, 1, 1000)
    code, out, err = db.cli("report", "partners")
    assert code == 0, err
    assert "Acme Distribution" in out
