"""Policy simulation on a company whose truth is known."""

from __future__ import annotations

import io
from datetime import date

import numpy as np
import polars as pl
import pytest

from leadflow.simulate.company import CompanySpec, generate_company
from leadflow.simulate.forward import gini, route_stream, simulate_policies, stream_of
from tests.conftest import Database


def test_gini_against_known_values() -> None:
    assert gini(np.array([5, 5, 5, 5])) == pytest.approx(0.0)
    assert gini(np.array([0, 0, 0, 12])) == pytest.approx(0.75)  # (n - 1) / n when one has all
    assert gini(np.array([1, 2, 3, 4])) == pytest.approx(0.25)


def test_optimal_wins_more_than_round_robin_within_capacity() -> None:
    company = generate_company(CompanySpec(n_leads=30_000, n_reps=16, seed=4, end=date(2026, 12, 1)))
    table = simulate_policies(company, policies=("round_robin", "merit", "optimal"), replications=100)
    rows = {r["policy"]: r for r in table.iter_rows(named=True)}
    assert rows["optimal"]["gain_low"] > 0  # credibly more wins on the same leads
    assert rows["optimal"]["expected_revenue"] > rows["round_robin"]["expected_revenue"]
    assert rows["round_robin"]["gini_leads_per_rep"] < rows["optimal"]["gini_leads_per_rep"]
    # no policy takes a rep past capacity; what nobody can take is counted, not dropped
    stream = stream_of(company)
    capacity = company.reps["capacity"].to_numpy()
    for policy in ("round_robin", "merit", "optimal"):
        choice = route_stream(company, stream, policy)
        assert (np.bincount(choice[choice >= 0], minlength=capacity.size) <= capacity).all()
        assert (choice < 0).sum() == rows[policy]["over_capacity"]


def test_simulate_command(db: Database) -> None:
    code, out, err = db.cli(
        "simulate", "--policy", "round_robin", "--policy", "optimal", "--leads", "8000", "--reps", "8",
        "--replications", "20", "--format", "csv",
    )  # fmt: skip
    assert code == 0, err
    table = pl.read_csv(io.StringIO(out))
    assert table["policy"].to_list() == [
        "round_robin",
        "optimal",
        "oracle",
    ]  # the oracle: the most routing could win
    assert db.cli("simulate", "--policy", "lottery")[0] == 2


def test_optimal_learns_who_sells_what_without_being_told() -> None:
    """Reps with hidden specialisms by industry and source, and no segment_by anywhere: optimal
    learns them from the history and wins at least 0.85 of what the oracle (routing on the
    truth) gains over round-robin; merit, blind to them, wins little of it."""
    company = generate_company(
        CompanySpec(n_leads=50_000, n_reps=24, seed=11, specialism=0.5, end=date(2026, 12, 1))
    )
    table = simulate_policies(company, policies=("round_robin", "merit", "optimal"), replications=60)
    rows = {r["policy"]: r for r in table.iter_rows(named=True)}
    assert list(rows) == ["round_robin", "merit", "optimal", "oracle"]
    assert rows["oracle"]["oracle_share"] == pytest.approx(1.0)
    assert rows["optimal"]["oracle_share_low"] >= 0.85
    assert (
        rows["optimal"]["oracle_share_low"]
        <= rows["optimal"]["oracle_share"]
        <= rows["optimal"]["oracle_share_high"]
    )
    assert rows["merit"]["oracle_share"] < 0.2
