"""Expected-value optimal allocation: the leads to the reps most likely to win them, within capacity.

Maximise the sum over leads of P(win | lead, rep) x expected deal value, subject to each lead
going to at most one eligible rep, no rep past its capacity, and each rep getting at least a
minimum share. Leads with the same value row (a segment) are one supply, so the linear
programme has segments x reps variables, not leads x reps. It is a transportation problem: its
constraint matrix is totally unimodular, so HiGHS's optimal vertex is already whole numbers of
leads per segment and rep; the leads of a segment are then dealt out in that number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.cluster.vq import kmeans2
from scipy.optimize import linprog
from scipy.sparse import coo_array, vstack

from leadflow.routing.policies import even_split
from leadflow.stats import Array
from leadflow.stats.links import expit, logit


@dataclass(frozen=True)
class Allocation:
    """Leads per (segment, rep), the expected value it achieves, and the solver's status."""

    counts: Array
    expected_value: float
    status: str


def allocate_segments(
    value: Array,
    supply: Array,
    capacity: Array,
    *,
    eligible: Array | None = None,
    min_count: Array | None = None,
) -> Allocation:
    """Solve the allocation over segments.

    Parameters
    ----------
    value : float (s, m), expected value of one lead of segment k given to rep j.
    supply : int (s,), leads in each segment.
    capacity : int (m,), leads each rep can still take.
    eligible : bool (s, m), who may take a segment's leads (all if None).
    min_count : int (m,), leads each rep must get at least (none if None); lowered to what the
        rep's eligible supply and capacity allow, and in proportion when together they promise
        more leads than there are.
    """
    value = np.asarray(value, dtype=float)
    supply = np.asarray(supply, dtype=float)
    capacity = np.asarray(capacity, dtype=float)
    s, m = value.shape
    eligible = np.ones((s, m), dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
    rows, cols = np.nonzero(eligible)
    k = rows.size
    if k == 0:
        return Allocation(np.zeros((s, m), dtype=np.int64), 0.0, "nothing eligible")
    if s == 1 and (min_count is None or not np.any(min_count)):
        return _fill_one_segment(value[0], supply[0], capacity, eligible[0])
    variables = np.arange(k)
    # each segment's leads at most once; each rep within capacity (and at least its minimum)
    a_supply = coo_array((np.ones(k), (rows, variables)), shape=(s, k))
    a_capacity = coo_array((np.ones(k), (cols, variables)), shape=(m, k))
    blocks, bounds = [a_supply, a_capacity], [supply, capacity]
    if min_count is not None:
        reachable = np.minimum(np.bincount(cols, weights=supply[rows], minlength=m), capacity)
        floor = np.minimum(np.asarray(min_count, dtype=float), reachable)
        if floor.sum() > supply.sum():  # more promised than there are leads: scale the promises down
            floor = np.floor(floor * supply.sum() / floor.sum())
        blocks.append(-a_capacity)
        bounds.append(-floor)
    result = linprog(
        -value[rows, cols],
        A_ub=vstack(blocks).tocsr(),
        b_ub=np.concatenate(bounds),
        bounds=(0, None),
        method="highs",
    )
    if result.status != 0:
        raise ValueError(f"allocation has no solution: {result.message}")
    counts = np.zeros((s, m), dtype=np.int64)
    counts[rows, cols] = np.rint(result.x).astype(np.int64)
    return Allocation(counts, float(-result.fun), result.message)


def _fill_one_segment(value: Array, supply: float, capacity: Array, eligible: Array) -> Allocation:
    """One segment and no minimums (a lead routed in real time): the exact optimum is to fill
    the reps in order of value, each up to its capacity; no solver needed."""
    counts = np.zeros((1, value.size), dtype=np.int64)
    left = int(supply)
    for j in np.argsort(-np.where(eligible, value, -np.inf), kind="stable"):
        if left == 0 or not eligible[j]:
            break
        take = int(min(left, max(capacity[j], 0)))
        counts[0, j], left = take, left - take
    return Allocation(counts, float(counts[0] @ value), "filled in order of value (one segment)")


def _coarser(p: Array, group: Array, bins: int) -> tuple[Array, Array, Array]:
    """Segments of each group's leads in ``bins`` quantile bins of p: their mean p, group, and
    each lead's segment."""
    order = np.lexsort((p, group))
    sizes = np.bincount(group)
    starts = np.cumsum(sizes) - sizes
    rank = np.empty(p.size, dtype=np.int64)
    rank[order] = np.arange(p.size) - starts[group[order]]
    bin_of = rank * bins // np.maximum(sizes[group], 1)
    keys, segment = np.unique(np.column_stack([group, bin_of]), axis=0, return_inverse=True)
    segment = segment.reshape(-1)
    levels = np.bincount(segment, weights=p) / np.bincount(segment)
    return np.clip(levels, 1e-4, 1 - 1e-4), keys[:, 0].astype(np.int64), segment


def effect_groups(effect: Array, *, max_groups: int = 48, seed: int = 0) -> tuple[Array, Array]:
    """Group leads by their reps' effects (n, m) for :func:`optimal`: leads whose rows agree to
    0.01 are one group; past ``max_groups`` distinct rows (many reps and attributes), rows are
    clustered (k-means) and each group's row is its leads' mean, so the allocation stays a
    problem of groups x reps whatever the number of leads. Returns the groups' rows and each
    lead's group."""
    effect = np.asarray(effect, dtype=float)
    rows, group = np.unique(np.round(effect, 2), axis=0, return_inverse=True)
    group = group.reshape(-1)
    if rows.shape[0] <= max_groups:
        return rows, group
    _, label = kmeans2(rows, max_groups, seed=seed, minit="++")
    group = label[group]
    found, group = np.unique(group, return_inverse=True)
    means = np.zeros((found.size, effect.shape[1]))
    np.add.at(means, group, effect)
    return means / np.bincount(group, minlength=found.size)[:, None], group


def deal_out(segment: Array, counts: Array) -> Array:
    """Give each lead a rep so that segment k's leads go to reps in the numbers ``counts[k]``.

    Leads left over (counts below the segment's supply) get -1: nobody with room could take them.
    """
    segment = np.asarray(segment, dtype=np.int64)
    choice = np.full(segment.size, -1, dtype=np.int64)
    order = np.argsort(segment, kind="stable")
    starts = np.searchsorted(segment[order], np.arange(counts.shape[0]))
    for k in range(counts.shape[0]):
        reps = np.repeat(np.arange(counts.shape[1]), counts[k])
        members = order[starts[k] : starts[k] + reps.size]
        choice[members] = reps[: members.size]
    return choice


def optimal(
    ok: Array,
    capacity: Array,
    *,
    p_lead: Array,
    rep_effect: Array,
    deal_value: float,
    lead_group: Array | None = None,
    min_share: float | Array = 0.0,
    given: Array | None = None,
    seed: int = 0,
    max_segments: int | None = None,
) -> tuple[Array, Array, Array]:
    """The ``optimal`` policy for one group of leads and reps.

    P(win | lead, rep) = sigmoid(logit(p_lead) + rep_effect), and a lead's value is that times
    the expected deal value. ``rep_effect`` is one row for every lead (m,) or one row per group
    of leads (g, m) with ``lead_group`` (n,) naming each lead's row: a rep's effect may differ
    by industry, source or product. Leads are grouped in segments of equal p_lead (to 0.01) and
    group, the segments allocated by :func:`allocate_segments`, and the leads of a segment dealt
    out in random order (``seed``). Past ``max_segments`` (many groups, many reps: the solver's
    work grows with segments x reps), each group's leads are binned by their P(win) quantiles
    instead, each bin at its mean.

    ``given`` is each rep's count of leads this period before these: each eligible rep gets at
    least ``min_share`` (one for all, or one per rep) of the period's leads, however the leads
    arrive. Reps whose values are equal for every segment (two new reps, or everyone before any
    history) are one class to the solver, and the class's leads are split among them by
    :func:`~leadflow.routing.policies.even_split`, evenly over the period. Returns each lead's rep
    index (-1: no room), the (segment, rep) values, and each lead's segment.
    """
    ok = np.asarray(ok, dtype=bool)
    capacity = np.asarray(capacity, dtype=np.int64)
    m = capacity.size
    counts = np.zeros(m) if given is None else np.asarray(given, dtype=float)
    p = np.round(np.asarray(p_lead, dtype=float), 2)
    n = p.size
    effect = np.atleast_2d(np.asarray(rep_effect, dtype=float))
    group = np.zeros(n, dtype=np.int64) if lead_group is None else np.asarray(lead_group, dtype=np.int64)
    keys, segment = np.unique(np.column_stack([group, np.rint(p * 100)]), axis=0, return_inverse=True)
    segment = segment.reshape(-1)
    levels, rows = keys[:, 1] / 100, keys[:, 0].astype(np.int64)
    if max_segments is not None and levels.size > max_segments:
        levels, rows, segment = _coarser(p, group, max(2, max_segments // (group.max() + 1)))
    value = deal_value * expit(logit(levels)[:, None] + effect[rows])
    supply = np.bincount(segment, minlength=levels.size)
    open_ = ok & (capacity > 0)
    period = counts[open_].sum() + n
    minimum = np.where(
        open_, np.maximum(np.floor(np.asarray(min_share, dtype=float) * period) - counts, 0), 0
    )
    # reps of equal value everywhere (and equally eligible) are one class to the solver
    signature = np.column_stack([np.round(value.T, 9), open_])
    _, first, rep_class = np.unique(signature, axis=0, return_index=True, return_inverse=True)
    rep_class = rep_class.reshape(-1)
    allocation = allocate_segments(
        value[:, first],
        supply,
        np.bincount(rep_class, weights=np.where(open_, capacity, 0), minlength=first.size),
        eligible=np.broadcast_to(open_[first], (levels.size, first.size)),
        min_count=np.bincount(rep_class, weights=minimum, minlength=first.size),
    )
    order = np.random.default_rng(seed).permutation(n)
    in_class = np.full(n, -1, dtype=np.int64)
    in_class[order] = deal_out(segment[order], allocation.counts)
    choice = np.full(n, -1, dtype=np.int64)
    for c in np.unique(in_class[in_class >= 0]):
        leads = np.flatnonzero(in_class == c)  # in queue order: the best first
        members = np.flatnonzero(rep_class == c)
        if members.size == 1:  # the solver kept within this rep's capacity
            choice[leads] = members[0]
            continue
        room = np.where(open_[members], capacity[members], 0)
        picked = even_split(leads.size, room, given=counts[members], seed=seed)
        choice[leads] = np.where(picked >= 0, members[np.maximum(picked, 0)], -1)
    return choice, value, segment
