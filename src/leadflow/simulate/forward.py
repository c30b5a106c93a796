"""Try routing policies on a company whose truth is known, before one goes live.

The last month of a generated company's leads is the stream; everything before is the history
leadflow would have (closed leads, per-rep close rates, last month's results for ``merit``).
Each policy routes the same stream within the reps' capacities, using only what leadflow could
know; then the company's hidden truth plays it out many times: each rep's real skill (laggards
lag), first touches that come later the more a rep is loaded, leads never worked, and a win
drawn from the resulting probability. The spread over those replications is each figure's
interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from leadflow.routing.allocate import optimal
from leadflow.routing.policies import load_balance, merit, round_robin, weighted
from leadflow.simulate.company import Company
from leadflow.simulate.truth import first_touch, load_factor, touch_effect_of
from leadflow.stats import Array
from leadflow.stats.close_rates import close_rates
from leadflow.stats.links import expit, logit

POLICIES = ("round_robin", "weighted", "load_balance", "merit", "optimal")


@dataclass(frozen=True)
class Stream:
    """The leads to route and what leadflow knows about the reps when they arrive."""

    leads: pl.DataFrame  # territory, lead_logit (truth), p_lead (what a model can know), amount
    history: pl.DataFrame  # closed leads before the stream: owner, stage, created_at
    start: datetime


def stream_of(company: Company, *, days: int = 31) -> Stream:
    """The company's last ``days`` of distributed leads, and the closed history before them."""
    end = datetime.combine(company.spec.end, datetime.min.time())
    start = end - timedelta(days=days)
    leads = company.leads.with_columns(
        pl.Series("lead_logit", company.truth["lead_logit"]),
        pl.Series("p_lead", company.truth["p_lead"]),
    )
    incoming = leads.filter(pl.col("created_at") >= start, ~pl.col("self_sourced"))
    history = leads.filter(pl.col("created_at") < start, pl.col("stage").is_in(["won", "lost"]))
    return Stream(incoming, history, start)


def _tally(history: pl.DataFrame, owners: Array) -> tuple[Array, Array]:
    counts = history.group_by("owner").agg(
        pl.len().alias("closed"), (pl.col("stage") == "won").sum().alias("won")
    )
    table = dict(
        zip(counts["owner"].to_list(), zip(counts["won"], counts["closed"], strict=True), strict=True)
    )
    won = np.array([table.get(int(o), (0, 0))[0] for o in owners], dtype=float)
    closed = np.array([table.get(int(o), (0, 0))[1] for o in owners], dtype=float)
    return won, closed


def route_stream(company: Company, stream: Stream, policy: str, *, seed: int = 0) -> Array:
    """Each lead's rep (index into company.reps; -1: over everyone's capacity) under ``policy``,
    deciding only on what leadflow could know."""
    reps = company.reps
    territory_of_rep = reps["territory"].to_numpy()
    capacity_all = reps["capacity"].to_numpy()
    choice = np.full(stream.leads.height, -1, dtype=np.int64)
    last_month = stream.history.filter(pl.col("created_at") >= stream.start - timedelta(days=31))
    for territory in np.unique(territory_of_rep):
        members = np.flatnonzero(territory_of_rep == territory)
        rows = np.flatnonzero(stream.leads["territory"].to_numpy() == territory)
        if rows.size == 0:
            continue
        capacity = capacity_all[members]
        eligible = np.ones((rows.size, members.size), dtype=bool)
        if policy == "round_robin":
            picked = round_robin(eligible, capacity)[0]
        elif policy == "weighted":  # weights by capacity, as teams often set them
            picked = weighted(eligible, capacity, weights=capacity.astype(float))[0]
        elif policy == "load_balance":
            picked = load_balance(eligible, capacity, open_leads=np.zeros(members.size))
        elif policy == "merit":
            won, closed = _tally(last_month, members)
            picked = merit(eligible, capacity, close_rates=np.divide(won, np.maximum(closed, 1)))
        elif policy == "optimal":
            won, closed = _tally(stream.history, members)
            rates = close_rates(won, closed)
            effect = logit(rates.mean) - logit(np.array([rates.prior.mean]))
            picked = optimal(
                np.ones(members.size, dtype=bool),
                capacity,
                p_lead=stream.leads["p_lead"].to_numpy()[rows],
                rep_effect=effect,
                deal_value=1.0,
                seed=seed,
            )[0]
        else:
            raise ValueError(f"unknown policy {policy!r}; choose from {', '.join(POLICIES)}")
        choice[rows] = np.where(picked >= 0, members[np.maximum(picked, 0)], -1)
    return choice


def gini(values: Array) -> float:
    """Gini coefficient of non-negative values: 0 is perfectly even, near 1 all to one."""
    x = np.sort(np.asarray(values, dtype=float))
    if x.size == 0 or x.sum() == 0:
        return 0.0
    ranks = np.arange(1, x.size + 1)
    return float((2 * ranks - x.size - 1) @ x / (x.size * x.sum()))


def play_out(
    company: Company, stream: Stream, choice: Array, *, sla_hours: float, replications: int, seed: int
) -> dict[str, Array]:
    """Realised wins, revenue and SLA misses of one routing over ``replications`` draws of the
    truth: each rep's skill (laggards lag), first touch slower under load, never worked, win."""
    rng = np.random.default_rng(seed)
    reps = company.reps
    placed = choice >= 0
    owner = choice[placed]
    lead_logit = stream.leads["lead_logit"].to_numpy()[placed]
    amount = stream.leads["amount"].fill_null(strategy="mean").to_numpy()[placed]
    laggard = reps["laggard"].to_numpy()
    skill = reps["skill"].to_numpy() - np.where(laggard, 1.0, 0.0)
    per_rep = np.bincount(owner, minlength=reps.height)
    overload = load_factor(per_rep, reps["capacity"].to_numpy())
    wins, revenue, misses = (np.zeros(replications) for _ in range(3))
    for r in range(replications):
        delay, worked = first_touch(
            rng, overload[owner], reps["diligence"].to_numpy()[owner], company.spec.never_worked_share
        )
        p = worked * expit(lead_logit + skill[owner] + touch_effect_of(delay))
        won = rng.random(p.size) < p
        wins[r], revenue[r] = won.sum(), amount[won].sum()
        misses[r] = np.mean(~worked | (delay > sla_hours)) if p.size else 0.0
    return {"wins": wins, "revenue": revenue, "sla_miss": misses}


def simulate_policies(
    company: Company,
    *,
    policies: tuple[str, ...] = POLICIES,
    sla_hours: float = 4.0,
    replications: int = 200,
    seed: int = 0,
) -> pl.DataFrame:
    """Compare policies on the same lead stream: expected wins and revenue with 95% intervals
    (over replications of the truth), the gain in wins over the first policy (paired), leads
    per rep (Gini), leads over capacity (to the reserve), and the share of leads missing the
    first-touch SLA."""
    stream = stream_of(company)
    rows = []
    baseline: Array | None = None
    for policy in policies:
        choice = route_stream(company, stream, policy, seed=seed)
        outcome = play_out(company, stream, choice, sla_hours=sla_hours, replications=replications, seed=seed)
        low, high = 2.5, 97.5
        per_rep = np.bincount(choice[choice >= 0], minlength=company.reps.height)
        rows.append(
            {
                "policy": policy,
                "leads": stream.leads.height,
                "expected_wins": float(outcome["wins"].mean()),
                "wins_low": float(np.percentile(outcome["wins"], low)),
                "wins_high": float(np.percentile(outcome["wins"], high)),
                "expected_revenue": float(outcome["revenue"].mean()),
                "revenue_low": float(np.percentile(outcome["revenue"], low)),
                "revenue_high": float(np.percentile(outcome["revenue"], high)),
                "gini_leads_per_rep": gini(per_rep),
                "over_capacity": int((choice < 0).sum()),
                "sla_miss_share": float(outcome["sla_miss"].mean()),
            }
        )
        # the same draws (common random numbers) for every policy: the gain's interval is paired
        baseline = outcome["wins"] if baseline is None else baseline
        gain = outcome["wins"] - baseline
        rows[-1] |= {
            "gain_vs_first": float(gain.mean()),
            "gain_low": float(np.percentile(gain, low)),
            "gain_high": float(np.percentile(gain, high)),
        }
    return pl.DataFrame(rows)
