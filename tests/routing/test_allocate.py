"""Expected-value allocation: the LP's optimum equals brute force, in whole leads, within limits."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from leadflow.routing.allocate import allocate_segments, deal_out


def brute_force(value: np.ndarray, capacity: np.ndarray, eligible: np.ndarray) -> float:
    best = -1.0
    n, m = value.shape
    for choice in itertools.product(range(-1, m), repeat=n):
        counts = np.bincount([c for c in choice if c >= 0], minlength=m)
        if (counts > capacity).any() or any(c >= 0 and not eligible[i, c] for i, c in enumerate(choice)):
            continue
        best = max(best, sum(value[i, c] for i, c in enumerate(choice) if c >= 0))
    return best


@pytest.mark.parametrize("seed", range(5))
def test_optimum_matches_brute_force_on_small_problems(seed: int) -> None:
    rng = np.random.default_rng(seed)
    value = rng.uniform(0, 1, (6, 3)) * rng.uniform(1_000, 5_000, (6, 1))
    capacity = rng.integers(1, 4, 3)
    eligible = rng.uniform(size=(6, 3)) > 0.25
    result = allocate_segments(value, np.ones(6), capacity, eligible=eligible)
    assert result.expected_value == pytest.approx(brute_force(value, capacity, eligible))
    assert (result.counts.sum(axis=0) <= capacity).all() and (result.counts.sum(axis=1) <= 1).all()
    assert not result.counts[~eligible].any()


def test_segments_minimum_shares_and_dealing_out() -> None:
    value = np.array([[0.30, 0.10], [0.20, 0.18]])  # rep 0 is better at both segments
    supply = np.array([50, 50])
    free = allocate_segments(value, supply, np.array([100, 100]))
    assert free.counts.tolist() == [[50, 0], [50, 0]]
    fair = allocate_segments(value, supply, np.array([100, 100]), min_count=np.array([0, 30]))
    # rep 1 must get 30: it costs least where rep 1 is nearly as good (segment 1)
    assert fair.counts.tolist() == [[50, 0], [20, 30]]
    assert fair.expected_value == pytest.approx(50 * 0.30 + 20 * 0.20 + 30 * 0.18)
    segment = np.array([1, 0] * 50)  # 50 leads of each segment, interleaved
    choice = deal_out(segment, fair.counts)
    for k in (0, 1):
        assert np.bincount(choice[segment == k], minlength=2).tolist() == fair.counts[k].tolist()


def test_minimums_promising_more_than_the_supply_are_scaled_down() -> None:
    value = np.array([[0.3, 0.2, 0.1, 0.05]])
    result = allocate_segments(value, np.array([10]), np.full(4, 10), min_count=np.full(4, 5))
    # 4 x 5 promised of 10 leads: 2 each, and the 2 left over to the best rep
    assert result.counts.tolist() == [[4, 2, 2, 2]]


@pytest.mark.parametrize("seed", range(20))
def test_one_segment_filled_in_order_of_value_equals_the_linear_programme(seed: int) -> None:
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 8))
    value = rng.uniform(0, 1, (1, m))
    capacity = rng.integers(0, 5, m)
    eligible = rng.uniform(size=(1, m)) > 0.3
    supply = np.array([int(rng.integers(1, 12))])
    shortcut = allocate_segments(value, supply, capacity, eligible=eligible)
    # the same problem with a second, empty segment goes through HiGHS
    solved = allocate_segments(
        np.vstack([value, value]),
        np.array([supply[0], 0]),
        capacity,
        eligible=np.vstack([eligible, eligible]),
    )
    assert shortcut.expected_value == pytest.approx(solved.expected_value)
    assert (shortcut.counts[0] <= capacity).all() and not shortcut.counts[0][~eligible[0]].any()
    assert shortcut.counts.sum() == min(supply[0], capacity[eligible[0]].sum())
