"""Routing policies: fair rotation, weights, load, merit schedules, eligibility and capacity."""

from __future__ import annotations

import numpy as np
import pytest

from leadflow.routing.policies import (
    UNASSIGNED,
    MeritSchedule,
    load_balance,
    merit,
    merit_shares,
    round_robin,
    weighted,
)


def test_round_robin_over_30_days_keeps_equal_reps_within_one_lead() -> None:
    pointer, given = -1, np.zeros(4, dtype=int)
    for _day in range(30):  # one lead a day, the pointer stored between days
        choice, pointer = round_robin(np.ones((1, 4), dtype=bool), np.full(4, 100), pointer=pointer)
        given[choice[0]] += 1
    assert given.max() - given.min() <= 1 and given.sum() == 30
    in_one_batch, _ = round_robin(np.ones((30, 4), dtype=bool), np.full(4, 100))
    assert np.bincount(in_one_batch, minlength=4).tolist() == given.tolist()


def test_away_archived_and_full_reps_get_nothing_and_orphans_are_unassigned() -> None:
    eligible = np.ones((12, 4), dtype=bool)
    eligible[:, 1] = False  # away or archived: not eligible for any lead
    eligible[11] = False  # a lead nobody covers
    capacity = np.array([100, 100, 0, 100])  # rep 2 is at capacity
    for policy in (
        lambda: round_robin(eligible, capacity)[0],
        lambda: weighted(eligible, capacity, weights=np.ones(4))[0],
        lambda: load_balance(eligible, capacity, open_leads=np.zeros(4)),
        lambda: merit(eligible, capacity, close_rates=np.array([0.1, 0.5, 0.4, 0.2])),
    ):
        choice = policy()
        assert not np.isin(choice, [1, 2]).any()
        assert choice[11] == UNASSIGNED and (choice[:11] != UNASSIGNED).all()


def test_capacity_is_never_exceeded() -> None:
    choice, _ = round_robin(np.ones((10, 3), dtype=bool), np.array([2, 3, 1]))
    assert np.bincount(choice[choice >= 0], minlength=3).tolist() == [2, 3, 1]
    assert (choice == UNASSIGNED).sum() == 4


def test_smooth_weighted_round_robin_follows_weights_without_bursts() -> None:
    choice, current = weighted(np.ones((6, 3), dtype=bool), np.full(3, 100), weights=np.array([3, 2, 1]))
    assert choice.tolist() == [0, 1, 0, 2, 1, 0]  # nginx's smooth order for weights 3:2:1
    more, _ = weighted(
        np.ones((54, 3), dtype=bool), np.full(3, 100), weights=np.array([3, 2, 1]), current=current
    )
    assert np.bincount(np.concatenate([choice, more])).tolist() == [30, 20, 10]


def test_load_balance_fills_the_emptiest_first() -> None:
    choice = load_balance(np.ones((5, 3), dtype=bool), np.full(3, 10), open_leads=np.array([4, 1, 2]))
    assert choice.tolist() == [1, 1, 2, 1, 2]


def quotas(shares: np.ndarray, total: int) -> np.ndarray:
    """Whole numbers of leads in proportion to ``shares`` adding up to ``total`` (largest
    remainder): what merit's shares should come to, computed apart from the policy."""
    exact = np.asarray(shares, dtype=float) * total
    counts = np.floor(exact).astype(np.int64)
    short = total - int(counts.sum())
    if short > 0:
        counts[np.argsort(-(exact - counts), kind="stable")[:short]] += 1
    return counts


def test_merit_schedule_gives_16_13_10_7_4_and_follows_rank() -> None:
    rates = np.array([0.10, 0.30, 0.20, 0.25, 0.15])
    assert quotas(merit_shares(rates), 50).tolist() == [4, 16, 10, 13, 7]
    choice = merit(np.ones((50, 5), dtype=bool), np.full(5, 100), close_rates=rates)
    assert np.bincount(choice, minlength=5).tolist() == [4, 16, 10, 13, 7]
    proportional = merit_shares(rates, MeritSchedule(proportional=True))
    assert proportional == pytest.approx(rates / rates.sum())
    with pytest.raises(ValueError, match="spread"):
        merit_shares(rates, MeritSchedule(spread=1.5))


def test_even_split_is_deficit_round_robin_with_equal_shares_without_the_loop() -> None:
    """The vectorised split optimal uses among equal reps gives exactly the leads, in exactly the
    order, that the lead-by-lead deficit round-robin gives with equal shares."""
    from leadflow.routing.policies import by_share, even_split

    rng = np.random.default_rng(0)
    for _ in range(300):
        m, n = int(rng.integers(1, 6)), int(rng.integers(0, 40))
        capacity, given, seed = rng.integers(0, 15, m), rng.integers(0, 10, m), int(rng.integers(0, 5))
        looped = by_share(
            np.ones((n, m), dtype=bool), capacity, shares=np.full(m, 1 / m), given=given, seed=seed
        )
        assert even_split(n, capacity, given=given, seed=seed).tolist() == looped.tolist()
    # two equal reps, 30 leads: 15 each, alternating
    assert np.bincount(even_split(30, np.array([100, 100]))).tolist() == [15, 15]
