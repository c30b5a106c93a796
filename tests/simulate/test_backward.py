"""Backtests on history: a model-based estimate of what other policies would have won."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pytest

from leadflow.db import session_scope
from leadflow.simulate.backward import TooLittleHistory, backtest_policies, policy_value
from leadflow.simulate.company import CompanySpec
from tests.conftest import Database, write_scored_demo

SPEC = CompanySpec(n_leads=24_000, n_reps=12, seed=9, end=date(2026, 10, 1))


def test_policy_value_is_the_sum_of_probabilities_with_an_outcome_interval() -> None:
    rng = np.random.default_rng(1)
    p = rng.uniform(0.05, 0.5, 2000)
    choice = rng.integers(0, 4, 2000)
    mean, low, high = policy_value(p, choice, np.zeros((400, 4)), rng=rng)
    assert mean == pytest.approx(p.sum())
    sd = np.sqrt((p * (1 - p)).sum())
    assert low == pytest.approx(p.sum() - 1.96 * sd, abs=0.3 * sd) and high > mean > low


def test_backtest_on_the_demo_ledger(db: Database) -> None:
    write_scored_demo(db, SPEC)
    with session_scope(db.engine) as s:
        table = backtest_policies(s, since=datetime(2026, 1, 1), until=datetime(2026, 5, 1), draws=100)
    rows = {r["policy"]: r for r in table.iter_rows(named=True)}
    actual = rows["actual"]
    # the model's estimate of what really happened is near what really happened
    assert actual["wins_low"] * 0.9 < actual["actual_wins"] < actual["wins_high"] * 1.1
    # routing on who closes is worth more than spreading leads evenly, and every lead is placed
    assert rows["optimal"]["vs_actual_routing"] > rows["round_robin"]["vs_actual_routing"]
    assert all(r["routed"] == r["leads"] for r in rows.values())
    assert actual["still_open"] < 0.05 * actual["leads"]  # an old enough period
    with session_scope(db.engine) as s, pytest.raises(TooLittleHistory):
        backtest_policies(s, since=datetime(2020, 1, 1), until=datetime(2020, 2, 1))
    code, out, err = db.cli("simulate", "--history", "--since", "2026-05-01", "--until", "2026-09-01",
                            "--replications", "50", "--format", "csv")  # fmt: skip
    assert code == 0, err
    assert out.splitlines()[0].startswith("policy,leads,routed,estimated_wins")
    code, _, err = db.cli("simulate", "--history", "--since", "2020-01-01", "--until", "2020-02-01")
    assert code == 1 and "closed leads with a win probability" in err
