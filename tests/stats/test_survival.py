"""Aalen-Johansen time to close against lifelines on the same data."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from lifelines import AalenJohansenFitter

from leadflow.stats.survival import aalen_johansen


@pytest.mark.parametrize("seed", range(3))
def test_cumulative_incidence_equals_lifelines(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 3000
    to_win, to_lose, censor = rng.gamma(2, 60, n), rng.gamma(1.5, 50, n), rng.uniform(10, 365, n)
    time = np.minimum(np.minimum(to_win, to_lose), censor)
    event = np.where(time == censor, 0, np.where(to_win < to_lose, 1, 2))
    ours = aalen_johansen(time, event == 1, event == 2, event == 0)
    for code, curve in ((1, ours.won), (2, ours.lost)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitter = AalenJohansenFitter(calculate_variance=False).fit(time, event, event_of_interest=code)
        theirs = fitter.cumulative_density_.iloc[:, 0]
        expected = theirs.reindex(ours.time).to_numpy()
        np.testing.assert_allclose(curve, expected, atol=1e-6)
    # and at any horizon: the step function's value, nothing beyond the follow-up
    won_at, _ = ours.at(np.array([30.0, 90.0, 400.0]))
    assert won_at[0] == pytest.approx(ours.won[np.searchsorted(ours.time, 30.0, side="right") - 1])
    assert np.isnan(won_at[2])


def test_ties_count_outcomes_before_censoring_and_weights_are_counts() -> None:
    # 10 leads: 2 won at day 5, 1 lost and 1 censored at day 5, 6 censored at day 9
    aggregated = aalen_johansen(
        np.array([5, 5, 9]), np.array([2, 0, 0]), np.array([0, 1, 0]), np.array([0, 1, 6])
    )
    assert aggregated.won.tolist() == pytest.approx([0.2, 0.2]) and aggregated.lost[0] == pytest.approx(0.1)
    assert aggregated.at_risk.tolist() == [10, 6]
