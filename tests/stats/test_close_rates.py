"""Close-rate estimates: Beta posteriors that shrink small samples and cover the truth."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import beta

from leadflow.stats.close_rates import Prior, close_rates, team_prior


def test_posterior_is_the_beta_of_prior_plus_outcomes() -> None:
    rates = close_rates(np.array([2, 40]), np.array([2, 100]), prior=Prior(3, 7))
    assert rates.mean == pytest.approx([5 / 12, 43 / 110])
    assert rates.low[1] == pytest.approx(beta.ppf(0.025, 43, 67))
    assert rates.high[1] == pytest.approx(beta.ppf(0.975, 43, 67))
    # two wins out of two is not a 100% closer: pulled to the team's 30%, and uncertain
    assert rates.mean[0] < 0.5 and rates.exploring().tolist() == [True, False]


def test_prior_strength_reflects_the_real_spread_between_reps() -> None:
    rng = np.random.default_rng(1)
    closed = np.full(40, 200)
    same = team_prior(rng.binomial(closed, 0.3), closed)  # identical reps: only noise
    different = team_prior(rng.binomial(closed, rng.beta(6, 14, 40)), closed)  # real spread
    assert same.mean == pytest.approx(0.3, abs=0.02) and different.mean == pytest.approx(0.3, abs=0.03)
    assert same.strength > 200 > different.strength > 5  # Beta(6, 14) has strength 20


def test_credible_intervals_cover_the_true_close_rate() -> None:
    rng = np.random.default_rng(7)
    truth = rng.beta(6, 14, 2000)
    closed = rng.integers(5, 80, 2000)
    won = rng.binomial(closed, truth)
    rates = close_rates(won, closed)
    coverage = np.mean((rates.low <= truth) & (truth <= rates.high))
    assert 0.93 < coverage < 0.97
    with pytest.raises(ValueError, match="between 0 and"):
        close_rates(np.array([3]), np.array([2]))


def test_segment_rates_shrink_each_cell_toward_rep_and_segment_and_learn_real_interactions() -> None:
    from leadflow.stats.close_rates import segment_rates

    rng = np.random.default_rng(3)
    reps, segments = 12, 4
    rep_rate = rng.uniform(0.2, 0.4, reps)
    closed = np.full((segments, reps), 150)
    closed[0, 0] = 0  # a cell with no history at all
    # no interaction: cells differ from rep x segment only by noise, so the pull is strong
    plain = segment_rates(rng.binomial(closed, rep_rate[None, :]), closed, rep_rate=rep_rate)
    assert plain.strength > 300
    assert plain.mean[0, 0] == pytest.approx(plain.expected[0, 0])  # nothing seen: the expectation
    # real interaction (each rep much better or worse at some segments): a weak pull
    knack = rng.choice([-0.15, 0.15], (segments, reps))
    truth = np.clip(rep_rate[None, :] + knack, 0.02, 0.98)
    won = rng.binomial(closed, truth)
    mixed = segment_rates(won, closed, rep_rate=rep_rate)
    assert mixed.strength < 100
    a = mixed.strength * mixed.expected[1, 2] + won[1, 2]
    b = mixed.strength * (1 - mixed.expected[1, 2]) + closed[1, 2] - won[1, 2]
    assert mixed.mean[1, 2] == pytest.approx(a / (a + b))
    assert mixed.low[1, 2] == pytest.approx(beta.ppf(0.025, a, b))
    covered = (mixed.low <= truth) & (truth <= mixed.high)
    assert covered[closed > 0].mean() > 0.85
    # the effects a rep adds per segment follow the real knack
    has = closed > 0
    beyond_rep = mixed.effect() - np.log(rep_rate / (1 - rep_rate))[None, :]
    assert np.corrcoef(beyond_rep[has], knack[has])[0, 1] > 0.6
