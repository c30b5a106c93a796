"""What another routing policy would have won on imported history: a model-based estimate.

Off-policy evaluation by the direct method (not inverse propensity: history rarely records the
probability with which each rep was chosen). Each closed lead of the period has a win
probability from the scoring model, which never sees the rep; each rep has a close rate learned
from the leads they closed before the period (Beta-Binomial, shrunk toward the team). A policy
re-routes the period's leads among the reps who worked that territory then, within their
capacity, and its value is the sum over leads of sigmoid(logit p_lead + the chosen rep's
effect). The interval draws the reps' close rates from their posteriors and the outcomes from
the resulting probabilities. The same estimate of the routing that actually happened, beside
the wins that actually happened, shows how far to trust the model.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl
from sqlalchemy import case, func, select, true
from sqlalchemy.orm import Session

from leadflow.analytics.query.filters import home_territories
from leadflow.errors import LeadflowError
from leadflow.models import Lead, Rep, Team, Territory
from leadflow.routing.allocate import optimal
from leadflow.routing.policies import merit, round_robin
from leadflow.stats import Array
from leadflow.stats.close_rates import close_rates
from leadflow.stats.links import expit, logit

BACKTEST_POLICIES = ("actual", "round_robin", "merit", "optimal")


class TooLittleHistory(LeadflowError):
    """Not enough closed, scored leads to estimate anything honestly."""


def policy_value(
    p_lead: Array, choice: Array, effect_draws: Array, *, rng: np.random.Generator
) -> tuple[float, float, float]:
    """Mean and 95% interval of the wins a routing ``choice`` (rep index per lead, -1: nobody)
    would bring, over draws of the reps' effects (draws x reps) and of the outcomes."""
    placed = choice >= 0
    base = logit(p_lead[placed])[None, :]
    q = expit(base + effect_draws[:, choice[placed]])
    wins = rng.binomial(1, q).sum(axis=1).astype(float)
    return float(q.sum(axis=1).mean()), float(np.percentile(wins, 2.5)), float(np.percentile(wins, 97.5))


def backtest_policies(
    session: Session,
    *,
    since: datetime,
    until: datetime,
    policies: tuple[str, ...] = BACKTEST_POLICIES,
    draws: int = 300,
    seed: int = 0,
    team: str | None = None,
) -> pl.DataFrame:
    """Estimated wins of each policy on the leads created in [since, until) that have closed,
    against the wins that actually happened; the method is model-based (the direct method).
    With ``team``, only the leads that team's reps owned (a manager's backtest)."""
    owned_by_team = (
        Lead.owner_id.in_(select(Rep.id).join(Team, Team.id == Rep.team_id).where(Team.name == team))
        if team is not None
        else true()
    )
    rows = session.execute(
        select(Lead.owner_id, Lead.territory_id, Lead.win_probability, Lead.stage)
        .where(
            Lead.created_at >= since,
            Lead.created_at < until,
            Lead.stage.in_(("won", "lost")),
            Lead.owner_id.is_not(None),
            Lead.self_sourced.is_(False),
            owned_by_team,
        )
        .order_by(Lead.created_at, Lead.id)
    ).all()
    period = pl.DataFrame(
        rows,
        schema={"owner": pl.Int64, "territory_id": pl.Int64, "p": pl.Float64, "stage": pl.String},
        orient="row",
    )
    scored = period.filter(pl.col("p").is_not_null())
    # leads of the period still open: excluded, and they bias the rest toward quick outcomes
    still_open = session.scalar(
        select(func.count()).where(
            Lead.created_at >= since,
            Lead.created_at < until,
            Lead.stage.not_in(("won", "lost", "disqualified")),
            Lead.owner_id.is_not(None),
            Lead.self_sourced.is_(False),
            owned_by_team,
        )
    )
    if scored.height < 30:
        raise TooLittleHistory(
            f"only {scored.height} closed leads with a win probability in this period; "
            "train and score them first (`leadflow score --train --all`) or widen the period"
        )
    won_case = case((Lead.stage == "won", 1), else_=0)
    before = {
        r: (float(w), float(n))
        for r, w, n in session.execute(
            select(Lead.owner_id, func.sum(won_case), func.count())
            .where(
                Lead.stage.in_(("won", "lost")),
                Lead.owner_id.is_not(None),
                func.coalesce(Lead.won_at, Lead.lost_at) < since,
            )
            .group_by(Lead.owner_id)
        ).all()
    }
    reps = sorted(set(scored["owner"].to_list()))
    index = {r: i for i, r in enumerate(reps)}
    won = np.array([before.get(r, (0.0, 0.0))[0] for r in reps])
    closed = np.array([before.get(r, (0.0, 0.0))[1] for r in reps])
    rates = close_rates(won, closed)
    rng = np.random.default_rng(seed)
    a, b = rates.prior.alpha + won, rates.prior.beta + closed - won
    effect_draws = logit(rng.beta(a, b, size=(draws, len(reps)))) - logit(np.array([rates.prior.mean]))
    effect = logit(rates.mean) - logit(np.array([rates.prior.mean]))
    names = dict(session.execute(select(Territory.id, Territory.name)).all())
    home = home_territories(session)
    territory = np.array(
        [
            names.get(t) if t is not None else home.get(o)
            for o, t in scored.select("owner", "territory_id").iter_rows()
        ],
        dtype=object,
    )
    owner = np.array([index[o] for o in scored["owner"].to_list()])
    p_lead = scored["p"].to_numpy()
    capacities: dict[int, int | None] = dict(session.execute(select(Rep.id, Rep.capacity)).all())
    months = max((until - since).days / 30.44, 1.0)
    unlimited = np.iinfo(np.int32).max
    configured = np.array([unlimited if (c := capacities.get(r)) is None else int(c * months) for r in reps])
    # a policy may give a rep as many leads as their capacity allows, or as they really got if
    # that was more: every policy then places every lead, and totals compare
    capacity_all = np.maximum(configured, np.bincount(owner, minlength=len(reps)))
    actual_wins = float((scored["stage"] == "won").sum())
    results = []
    for policy in policies:
        if policy == "actual":
            choice = owner
        else:
            choice = np.full(owner.size, -1, dtype=np.int64)
            for name in np.unique(territory.astype(str)):
                in_territory = np.flatnonzero(territory.astype(str) == name)
                # the reps who worked this territory in the period; merit ranks them by their close
                # rate before it
                members = np.unique(owner[in_territory])
                capacity = capacity_all[members]
                eligible = np.ones((in_territory.size, members.size), dtype=bool)
                if policy == "round_robin":
                    picked = round_robin(eligible, capacity)[0]
                elif policy == "merit":
                    picked = merit(eligible, capacity, close_rates=rates.mean[members])
                elif policy == "optimal":
                    picked = optimal(
                        np.ones(members.size, dtype=bool),
                        capacity,
                        p_lead=p_lead[in_territory],
                        rep_effect=effect[members],
                        deal_value=1.0,
                        seed=seed,
                    )[0]
                else:
                    raise LeadflowError(
                        f"unknown policy {policy!r}; choose from {', '.join(BACKTEST_POLICIES)}"
                    )
                choice[in_territory] = np.where(picked >= 0, members[np.maximum(picked, 0)], -1)
        mean, low, high = policy_value(p_lead, choice, effect_draws, rng=np.random.default_rng(seed + 1))
        results.append(
            {
                "policy": policy,
                "leads": int(owner.size),
                "routed": int((choice >= 0).sum()),
                "estimated_wins": mean,
                "wins_low": low,
                "wins_high": high,
                "actual_wins": actual_wins if policy == "actual" else None,
                "still_open": int(still_open or 0),
            }
        )
    table = pl.DataFrame(results, schema_overrides={"actual_wins": pl.Float64})
    baseline = table.filter(pl.col("policy") == "actual")["estimated_wins"]
    if baseline.len():
        table = table.with_columns((pl.col("estimated_wins") - baseline[0]).alias("vs_actual_routing"))
    return table
