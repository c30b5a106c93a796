"""Ratio statistics against simulation where the truth is known."""

from __future__ import annotations

import numpy as np

from leadflow.stats.rates import expected_wins, lagging


def test_expected_wins_interval_covers_the_truth_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(4)
    reps, leads = 2000, 150
    p = rng.beta(2, 8, (reps, leads))
    won = (rng.random((reps, leads)) < p).sum(axis=1)
    table = expected_wins(won, p.sum(axis=1), (p * (1 - p)).sum(axis=1))
    covered = (table["difference_low"] <= 0) & (table["difference_high"] >= 0)
    assert 0.93 < covered.mean() < 0.97  # type: ignore[operator]


def test_lagging_ignores_what_moves_the_whole_team_and_finds_a_real_drop() -> None:
    rng = np.random.default_rng(9)
    reps = 30
    past_n, recent_n = np.full(reps, 400), np.full(reps, 150)
    skill = rng.uniform(0.1, 0.3, reps)
    recent_rate = skill * 0.7  # everyone's recent leads convert less (not closed yet, a season)
    recent_rate[5] = skill[5] * 0.2  # one rep really dropped
    table = lagging(rng.binomial(recent_n, recent_rate), recent_n, rng.binomial(past_n, skill), past_n)
    assert np.flatnonzero(table["lagging"].to_numpy()).tolist() == [5]


def test_lagging_finds_a_weak_closer_collapsing_when_the_whole_team_dips() -> None:
    """A team-wide dip of a quarter is 8 points for a 32% closer and 1.5 for a 6% one. Compared in
    points, the 6% closer falling to 1.2% looks like the team and the best closers look like
    laggards; on the log-odds scale the collapse stands out and the dip flags nobody."""
    rng = np.random.default_rng(3)
    reps = 16
    past_n, recent_n = np.full(reps, 1500), np.full(reps, 600)
    skill = np.linspace(0.12, 0.32, reps)
    skill[2] = 0.06
    recent_rate = skill * 0.75
    recent_rate[2] = skill[2] * 0.2
    flagged = []
    for _ in range(20):
        table = lagging(rng.binomial(recent_n, recent_rate), recent_n, rng.binomial(past_n, skill), past_n)
        flagged.append(set(np.flatnonzero(table["lagging"].to_numpy()).tolist()))
    assert sum(2 in f for f in flagged) >= 14
    assert sum(len(f - {2}) for f in flagged) <= 2  # the 5% false discovery rate, over 20 tries
