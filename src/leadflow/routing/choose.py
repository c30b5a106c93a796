"""Running one policy over a group of leads: the choices, and the text that explains each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from leadflow.routing.allocate import optimal
from leadflow.routing.history import History
from leadflow.routing.policies import (
    MeritSchedule,
    load_balance,
    merit,
    merit_shares,
    round_robin,
    weighted,
)
from leadflow.settings import PolicyName, TeamRouting
from leadflow.stats import Array
from leadflow.stats.close_rates import SegmentRates, segment_rates


@dataclass
class _SegmentEffects:
    """Each rep's effect per value of a lead attribute (rows: values; a last row, value None,
    for leads without one: the rep's overall effect) and each lead's row."""

    values: list[str | None]
    effect: Array
    lead_group: Array
    rates: SegmentRates
    closed: Array


def segment_effects(
    history: History,
    segment_by: str,
    leads: pl.DataFrame,
    rep_ids: list[int],
    rep_rate: Array,
    overall_effect: Array,
) -> _SegmentEffects:
    """The reps' effects on these leads given each lead's value of ``segment_by``."""
    tally = history.segments.get(segment_by, {})
    column = leads[segment_by]
    values = sorted(set(column.drop_nulls()))
    counts = np.array([[tally.get((r, v), (0, 0)) for r in rep_ids] for v in values], dtype=float).reshape(
        len(values), len(rep_ids), 2
    )
    won, closed = counts[..., 0], counts[..., 1]
    rates = segment_rates(won, closed, rep_rate=rep_rate)
    index = {v: i for i, v in enumerate(values)}
    return _SegmentEffects(
        values=[*values, None],
        effect=np.vstack([rates.effect(), overall_effect[None, :]]),
        lead_group=np.array([index.get(v, len(values)) for v in column.to_list()], dtype=np.int64),
        rates=rates,
        closed=closed,
    )


@dataclass(frozen=True)
class Evidence:
    """What a plan knows of every rep it may route to, the same for each group of leads: their rows
    (roster order), shrunk close rates, (won, closed) last period, open leads, and the mean won deal."""

    rep_rows: list[dict[str, Any]]
    close_mean: Array
    last: dict[int, tuple[int, int]]
    open_leads: dict[int, int]
    deal_value: float


# Segments x reps the optimal policy's solver is given at most (HiGHS takes about a second for
# 30,000): past it, P(win) levels are coarsened (allocate.optimal's max_segments).
SOLVER_BUDGET = 8000


def run_policy(
    name: PolicyName,
    config: TeamRouting,
    *,
    evidence: Evidence,
    members: list[int],
    ok: Array,
    capacity: Array,
    p_lead: Array,
    effect: Array,
    lead_group: Array | None,
    exploring: Array,
    state: dict[str, dict[str, Any]],
    state_key: str,
    seed: int,
) -> tuple[Array, Any]:
    """Run one policy over a group of leads: the choices, and a function that explains the
    choice of each lead (given the leads' offsets and their picks) as an array of text."""
    rep_rows, close_mean, last = evidence.rep_rows, evidence.close_mean, evidence.last
    open_leads, deal_value = evidence.open_leads, evidence.deal_value
    n = p_lead.size
    eligible = np.broadcast_to(ok, (n, ok.size))
    ids = [rep_rows[i]["external_id"] for i in members]
    # leads each rep was issued this period before this run: shares hold over the period
    given = np.array([rep_rows[i].get("used") or 0 for i in members], dtype=float)
    saved = state.get(state_key, {})
    if name == "round_robin":
        pointer = ids.index(saved["last"]) if saved.get("last") in ids else -1
        choice, pointer = round_robin(eligible, capacity, pointer=pointer)
        state[state_key] = {"last": ids[pointer] if pointer >= 0 else None}
        return choice, _per_rep([f"next in rotation ({x})" for x in ids])
    if name == "weighted":
        weights = np.array([config.weight_of(x) for x in ids])
        current = np.array([saved.get("current", {}).get(x, 0.0) for x in ids])
        choice, current = weighted(eligible, capacity, weights=weights, current=current)
        state[state_key] = {"current": {x: float(v) for x, v in zip(ids, current, strict=True)}}
        return choice, _per_rep([f"weight {w:g} of {weights[ok].sum():g}" for w in weights])
    if name == "load_balance":
        loads = np.array([open_leads.get(rep_rows[i]["id"], 0) for i in members])
        choice = load_balance(eligible, capacity, open_leads=loads)
        return choice, _per_rep([f"fewest open leads ({n} before this batch)" for n in loads])
    if name == "merit":
        won = np.array([last.get(rep_rows[i]["id"], (0, 0))[0] for i in members], dtype=float)
        closed = np.array([last.get(rep_rows[i]["id"], (0, 0))[1] for i in members], dtype=float)
        team_rate = won.sum() / closed.sum() if closed.sum() else 0.0
        rates = np.divide(won, closed, out=np.full(won.size, team_rate), where=closed > 0)
        schedule = MeritSchedule(spread=config.merit_spread, proportional=config.merit_proportional)
        choice = merit(eligible, capacity, close_rates=rates, schedule=schedule, given=given, seed=seed)
        shares = merit_shares(rates, schedule)
        total = int(given.sum())
        return choice, _per_rep(
            [
                f"close rate last period {r:.0%}, share {s:.0%} (had {g:.0f} of {total} this period)"
                for r, s, g in zip(rates, shares, given, strict=True)
            ]
        )
    floor = np.where(exploring[members], max(config.min_share, config.exploration_share), config.min_share)
    choice, value, segment = optimal(
        ok,
        capacity,
        p_lead=p_lead,
        rep_effect=effect,
        lead_group=lead_group,
        deal_value=deal_value,
        min_share=floor,
        given=given,
        seed=seed,
        max_segments=max(16, SOLVER_BUDGET // max(len(members), 1)),
    )
    opening = [f"most expected value within capacity (rep close rate {close_mean[i]:.0%}, " for i in members]
    closing = [", exploring: few closed leads yet)" if exploring[i] else ")" for i in members]

    def explain(offsets: Array, picks: Array) -> Array:
        # the values are per (segment, rep): each distinct pair is written out once
        pairs, index = np.unique(segment[offsets] * len(members) + picks, return_inverse=True)
        rows, reps = np.divmod(pairs, len(members))
        texts = np.array(
            [
                f"{opening[j]}expected value {value[r, j]:,.0f}{closing[j]}"
                for r, j in zip(rows.tolist(), reps.tolist(), strict=True)
            ],
            dtype=object,
        )
        return texts[index.reshape(-1)]

    return choice, explain


def _per_rep(
    texts: list[str],
) -> Callable[[Array, Array], Array]:
    """A note that depends only on the rep picked."""
    table = np.array(texts, dtype=object)
    return lambda _offsets, picks: table[picks]
