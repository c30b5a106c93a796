"""Routing policies as pure functions over arrays: no session, no I/O, reusable in backtests.

Every policy takes the same inputs for a batch of ``n`` leads and ``m`` reps, in lead order:

- ``eligible`` : bool (n, m), whether rep j may take lead i (territory, active, not away);
- ``capacity`` : int (m,), how many more leads each rep can take this period;

and returns ``choice``, int (n,), the rep index for each lead or ``UNASSIGNED`` (-1) when no
eligible rep has capacity left. Policies that keep state across batches (the round-robin pointer,
the weighted current values) take it in and hand it back, so the caller can persist it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from leadflow.stats import Array

UNASSIGNED = -1


def _check(eligible: Array, capacity: Array) -> tuple[Array, Array]:
    eligible = np.asarray(eligible, dtype=bool)
    capacity = np.asarray(capacity, dtype=np.int64).copy()
    if eligible.ndim != 2 or eligible.shape[1] != capacity.shape[0]:
        raise ValueError(f"eligible is {eligible.shape}, capacity {capacity.shape}: reps must match")
    if (capacity < 0).any():
        raise ValueError("capacity left cannot be negative")
    return eligible, capacity


def round_robin(eligible: Array, capacity: Array, *, pointer: int = -1) -> tuple[Array, int]:
    """Each lead to the next rep after ``pointer`` in the cycle who is eligible and has room.

    Returns the choices and the new pointer (the last rep given a lead), which the caller stores
    so the rotation survives restarts. Reps skipped for a lead keep their place in the cycle.
    """
    eligible, capacity = _check(eligible, capacity)
    n, m = eligible.shape
    choice = np.full(n, UNASSIGNED, dtype=np.int64)
    order = np.arange(m)
    for i in range(n):
        cycle = (pointer + 1 + order) % m
        open_ = eligible[i, cycle] & (capacity[cycle] > 0)
        if open_.any():
            rep = int(cycle[np.argmax(open_)])
            choice[i], pointer = rep, rep
            capacity[rep] -= 1
    return choice, pointer


def weighted(
    eligible: Array, capacity: Array, *, weights: Array, current: Array | None = None
) -> tuple[Array, Array]:
    """Smooth weighted round-robin (as in nginx): over time rep j gets weight_j / sum of weights.

    For each lead, every eligible rep with room adds its weight to its current value; the rep with
    the highest value gets the lead and gives back the total. Returns choices and current values.
    """
    eligible, capacity = _check(eligible, capacity)
    weights = np.asarray(weights, dtype=float)
    if (weights < 0).any():
        raise ValueError("weights cannot be negative")
    value = np.zeros(capacity.shape[0]) if current is None else np.asarray(current, dtype=float).copy()
    choice = np.full(eligible.shape[0], UNASSIGNED, dtype=np.int64)
    for i in range(eligible.shape[0]):
        open_ = eligible[i] & (capacity > 0) & (weights > 0)
        if not open_.any():
            continue
        value[open_] += weights[open_]
        rep = int(np.argmax(np.where(open_, value, -np.inf)))
        value[rep] -= weights[open_].sum()
        choice[i] = rep
        capacity[rep] -= 1
    return choice, value


def load_balance(eligible: Array, capacity: Array, *, open_leads: Array) -> Array:
    """Each lead to the eligible rep with room who has the fewest open leads (lowest index on ties)."""
    eligible, capacity = _check(eligible, capacity)
    load = np.asarray(open_leads, dtype=np.int64).copy()
    choice = np.full(eligible.shape[0], UNASSIGNED, dtype=np.int64)
    for i in range(eligible.shape[0]):
        open_ = eligible[i] & (capacity > 0)
        if open_.any():
            rep = int(np.argmin(np.where(open_, load, np.iinfo(np.int64).max)))
            choice[i] = rep
            capacity[rep] -= 1
            load[rep] += 1
    return choice


@dataclass(frozen=True)
class MeritSchedule:
    """How merit shares fall with rank: linear from (1 + spread) to (1 - spread) times an equal
    share; the default spread 0.6 gives 16/13/10/7/4 of 50 leads to 5 reps. With
    ``proportional`` the shares follow the close rates themselves."""

    spread: float = 0.6
    proportional: bool = False


def merit_shares(close_rates: Array, schedule: MeritSchedule = MeritSchedule()) -> Array:
    """Each rep's share of leads (summing to 1) from last period's close rates."""
    rates = np.asarray(close_rates, dtype=float)
    m = rates.shape[0]
    if m == 0:
        return rates
    if schedule.proportional:
        total = rates.sum()
        return rates / total if total > 0 else np.full(m, 1 / m)
    if not 0 <= schedule.spread < 1:
        raise ValueError("merit spread must be at least 0 and below 1")
    rank = rankdata(-rates, method="average") - 1  # equal close rates, equal shares
    multiplier = 1 + schedule.spread * (1 - 2 * rank / (m - 1)) if m > 1 else np.ones(1)
    return multiplier / m


def by_share(
    eligible: Array, capacity: Array, *, shares: Array, given: Array | None = None, seed: int = 0
) -> Array:
    """Deficit round-robin: each lead to the eligible rep with room who is furthest below their
    ``shares`` of every lead given so far this period (``given``: each rep's count before this
    batch), so the shares hold whether leads come a thousand at once or one at a time.

    Reps exactly as far below their share (two equal reps with no history) are taken in an order
    drawn from ``seed``, so ties do not always favour the same rep, and over time equal reps
    split evenly, within one lead."""
    eligible, capacity = _check(eligible, capacity)
    shares = np.asarray(shares, dtype=float)
    counts = np.zeros(capacity.shape[0]) if given is None else np.asarray(given, dtype=float).copy()
    rank = np.empty(capacity.shape[0], dtype=float)
    rank[np.random.default_rng(seed).permutation(capacity.shape[0])] = np.arange(capacity.shape[0])
    choice = np.full(eligible.shape[0], UNASSIGNED, dtype=np.int64)
    for i in range(eligible.shape[0]):
        open_ = eligible[i] & (capacity > 0)
        if not open_.any():
            continue
        deficit = shares * (counts.sum() + 1) - counts
        best = np.where(open_, deficit, -np.inf).max()
        tied = open_ & (deficit >= best - 1e-9)
        rep = int(np.argmin(np.where(tied, rank, np.inf)))
        choice[i] = rep
        counts[rep] += 1
        capacity[rep] -= 1
    return choice


def even_split(n: int, capacity: Array, *, given: Array | None = None, seed: int = 0) -> Array:
    """:func:`by_share` with equal shares and every rep eligible, without a loop: ``n`` leads
    (in order) to the reps so that their counts this period (``given`` before) end as even as
    capacity allows, each next lead to the rep with the fewest so far (ties in an order drawn
    from ``seed``). Returns each lead's rep, or UNASSIGNED past everyone's capacity."""
    capacity = np.minimum(np.asarray(capacity, dtype=np.int64), n)
    m = capacity.size
    counts = np.zeros(m, dtype=np.int64) if given is None else np.asarray(given, dtype=np.int64)
    rank = np.empty(m, dtype=np.int64)
    rank[np.random.default_rng(seed).permutation(m)] = np.arange(m)
    room = int(capacity.sum())
    placed = min(n, room)

    def filled(level: int) -> Array:  # leads each rep takes to bring their count up to ``level``
        return np.clip(level - counts, 0, capacity)

    low, high = int(counts.min(initial=0)), int(counts.max(initial=0)) + placed + 1
    while low < high:  # the lowest level at which the reps could take every lead placed
        mid = (low + high) // 2
        low, high = (mid + 1, high) if filled(mid).sum() < placed else (low, mid)
    new = filled(low - 1)
    rest = placed - int(new.sum())
    at_edge = np.flatnonzero((counts + new == low - 1) & (new < capacity))
    new[at_edge[np.argsort(rank[at_edge], kind="stable")][:rest]] += 1
    owner = np.repeat(np.arange(m), new)
    step = np.arange(owner.size) - np.repeat(np.cumsum(new) - new, new)
    order = np.lexsort((rank[owner], counts[owner] + step))
    choice = np.full(n, UNASSIGNED, dtype=np.int64)
    choice[:placed] = owner[order]
    return choice


def merit(
    eligible: Array,
    capacity: Array,
    *,
    close_rates: Array,
    schedule: MeritSchedule = MeritSchedule(),
    given: Array | None = None,
    seed: int = 0,
) -> Array:
    """The schedule managers use: the best closer gets the most leads, within eligibility and room.

    Shares come from :func:`merit_shares` and hold over the period (:func:`by_share`): a rep
    ineligible for a lead or full falls behind and is caught up with the next leads they may take.
    """
    shares = merit_shares(close_rates, schedule)
    return by_share(eligible, capacity, shares=shares, given=given, seed=seed)
