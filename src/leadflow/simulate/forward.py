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

from leadflow.routing.affinity import RepAffinity
from leadflow.routing.allocate import effect_groups, optimal
from leadflow.routing.policies import load_balance, merit, round_robin, weighted
from leadflow.simulate.company import Company, end_of
from leadflow.simulate.truth import INDUSTRIES, SOURCES_NAMES, first_touch, load_factor, touch_effect_of
from leadflow.stats import Array
from leadflow.stats.links import expit, logit

POLICIES = ("round_robin", "weighted", "load_balance", "merit", "optimal")
# The lead attributes leadflow's router has (routing/queue.py): who sells what is learned over them.
ATTRIBUTES = ("industry", "source", "lead_type", "country")
ORACLE = "oracle"  # routes on the truth: the most any policy could win


@dataclass(frozen=True)
class Stream:
    """The leads to route and what leadflow knows about the reps when they arrive."""

    leads: pl.DataFrame  # territory, lead_logit (truth), p_lead (what a model can know), amount
    history: pl.DataFrame  # closed leads before the stream: owner, stage, created_at
    start: datetime


def stream_of(company: Company, *, days: int = 31) -> Stream:
    """The company's last ``days`` of distributed leads, and the closed history before them."""
    end = end_of(company.spec)
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


def learn_affinity(company: Company, stream: Stream) -> RepAffinity:
    """Who sells what, learned from the closed leads before the stream as leadflow would: their
    attributes, owner, outcome and lead-only P(win), nobody saying which attribute matters."""
    history = stream.history
    return RepAffinity().fit(
        {a: history[a].to_numpy() for a in ATTRIBUTES if a in history.columns},
        history["owner"].to_numpy(),
        (history["stage"] == "won").to_numpy(),
        n_reps=company.reps.height,
        offset=logit(history["p_lead"].to_numpy()),
        order=history["created_at"].to_numpy(),
    )


def true_effect(company: Company, leads: pl.DataFrame) -> Array:
    """(n, n_reps): each rep's true effect on each lead's log-odds in the stream (skill, laggards
    lagging, and hidden specialisms if the company has them), which only the oracle knows."""
    truth, reps = company.truth, company.reps
    skill = reps["skill"].to_numpy() - np.where(reps["laggard"].to_numpy(), 1.0, 0.0)
    effect = np.broadcast_to(skill[None, :], (leads.height, reps.height))
    if "rep_industry" not in truth:  # a company fitted to a ledger: skill is all it knows
        return effect
    industry = _codes(leads["industry"], [i[0] for i in INDUSTRIES])
    source = _codes(leads["source"], SOURCES_NAMES)
    return effect + truth["rep_industry"][:, industry].T + truth["rep_source"][:, source].T


def _codes(column: pl.Series, names: list[str]) -> Array:
    lookup = {name: i for i, name in enumerate(names)}
    return np.array([lookup[v] for v in column.to_list()], dtype=np.int64)


def route_stream(
    company: Company, stream: Stream, policy: str, *, seed: int = 0, affinity: RepAffinity | None = None
) -> Array:
    """Each lead's rep (index into company.reps; -1: over everyone's capacity) under ``policy``,
    deciding only on what leadflow could know (``oracle``: on the truth)."""
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
        elif policy in ("optimal", ORACLE):
            if policy == ORACLE:
                p_lead = expit(stream.leads["lead_logit"].to_numpy()[rows])
                effect = true_effect(company, stream.leads[rows])[:, members]
            else:
                affinity = affinity or learn_affinity(company, stream)
                p_lead = stream.leads["p_lead"].to_numpy()[rows]
                attributes = {
                    a: stream.leads[a].to_numpy()[rows] for a in ATTRIBUTES if a in stream.leads.columns
                }
                effect = affinity.rep_effect(attributes, n=rows.size)[:, members]
            rows_of_effect, lead_group = effect_groups(effect, seed=seed)
            picked = optimal(
                np.ones(members.size, dtype=bool),
                capacity,
                p_lead=p_lead,
                rep_effect=rows_of_effect,
                lead_group=lead_group,
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
    effect = true_effect(company, stream.leads.filter(pl.Series(placed)))[np.arange(owner.size), owner]
    per_rep = np.bincount(owner, minlength=reps.height)
    overload = load_factor(per_rep, reps["capacity"].to_numpy())
    wins, revenue, misses = (np.zeros(replications) for _ in range(3))
    for r in range(replications):
        delay, worked = first_touch(
            rng, overload[owner], reps["diligence"].to_numpy()[owner], company.spec.never_worked_share
        )
        p = worked * expit(lead_logit + effect + touch_effect_of(delay))
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
    (over replications of the truth), the gain in wins over the first policy (paired), the share
    of the oracle's gain over round-robin each captures, leads per rep (Gini), leads over
    capacity (to the reserve), and the share of leads missing the first-touch SLA. The oracle
    (routing on the truth, which no policy has) is the last row: the most routing could win."""
    stream = stream_of(company)
    affinity = learn_affinity(company, stream) if "optimal" in policies else None
    outcomes: dict[str, dict[str, Array]] = {}
    choices: dict[str, Array] = {}
    for policy in dict.fromkeys([*policies, "round_robin", ORACLE]):
        choices[policy] = route_stream(company, stream, policy, seed=seed, affinity=affinity)
        # the same draws (common random numbers) for every policy: differences are paired
        outcomes[policy] = play_out(
            company, stream, choices[policy], sla_hours=sla_hours, replications=replications, seed=seed
        )
    low, high = 2.5, 97.5
    baseline = outcomes[policies[0]]["wins"]
    share_low, share_mid, share_high = oracle_shares(outcomes, seed=seed)
    rows = []
    for policy in [*policies, ORACLE] if ORACLE not in policies else policies:
        outcome, choice = outcomes[policy], choices[policy]
        per_rep = np.bincount(choice[choice >= 0], minlength=company.reps.height)
        gain = outcome["wins"] - baseline
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
                "gain_vs_first": float(gain.mean()),
                "gain_low": float(np.percentile(gain, low)),
                "gain_high": float(np.percentile(gain, high)),
                "oracle_share": share_mid[policy],
                "oracle_share_low": share_low[policy],
                "oracle_share_high": share_high[policy],
            }
        )
    return pl.DataFrame(rows)


def oracle_shares(
    outcomes: dict[str, dict[str, Array]], *, seed: int = 0, resamples: int = 2000
) -> tuple[dict[str, float | None], dict[str, float | None], dict[str, float | None]]:
    """Each policy's share of the oracle's gain in wins over round-robin, with a 95% interval
    (a bootstrap over the paired replications): (low, estimate, high) by policy; None when the
    oracle gains nothing over round-robin (no share to speak of)."""
    base, best = outcomes["round_robin"]["wins"], outcomes[ORACLE]["wins"]
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, base.size, (resamples, base.size))
    room = (best - base)[picks].mean(axis=1)
    low: dict[str, float | None] = {}
    mid: dict[str, float | None] = {}
    high: dict[str, float | None] = {}
    for policy, outcome in outcomes.items():
        if (best - base).mean() <= 0:
            low[policy] = mid[policy] = high[policy] = None
            continue
        gained = (outcome["wins"] - base)[picks].mean(axis=1)
        ratio = gained / np.where(room > 0, room, np.nan)
        mid[policy] = float((outcome["wins"] - base).mean() / (best - base).mean())
        low[policy], high[policy] = (float(np.nanpercentile(ratio, q)) for q in (2.5, 97.5))
    return low, mid, high
