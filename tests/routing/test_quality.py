"""Expected-value quality on a demo company whose truth is known: optimal against the true optimum.

Prints the figures: expected wins under round-robin, merit, optimal (on estimated close rates and
lead probabilities) and the optimum on the true probabilities.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import polars as pl

from leadflow.routing.allocate import allocate_segments, deal_out, optimal
from leadflow.routing.policies import merit, round_robin
from leadflow.simulate.company import CompanySpec, generate_company
from leadflow.stats.close_rates import close_rates

SPEC = CompanySpec(n_leads=60_000, n_reps=24, seed=5, end=date(2026, 1, 1))


def rates(frame: pl.DataFrame, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Wins and closed leads of each rep in ``frame``."""
    won = np.array(
        [frame.filter((pl.col("owner") == m) & (pl.col("stage") == "won")).height for m in members]
    )
    closed = np.array([frame.filter(pl.col("owner") == m).height for m in members])
    return won, closed


def expected_wins(true_p: np.ndarray, choice: np.ndarray) -> float:
    placed = choice >= 0
    return float(true_p[np.flatnonzero(placed), choice[placed]].sum())


def test_optimal_reaches_most_of_the_true_optimum_gain_and_beats_merit() -> None:
    company = generate_company(SPEC)
    truth, reps = company.truth, company.reps
    leads = company.leads.with_columns(
        pl.Series("lead_logit", truth["lead_logit"]), pl.Series("p_lead", truth["p_lead"])
    ).with_row_index("i")
    month = datetime(2026, 1, 1) - timedelta(days=31)
    history = leads.filter(pl.col("created_at") < month, pl.col("stage").is_in(["won", "lost"]))
    last_month = history.filter(pl.col("created_at") >= month - timedelta(days=31))
    incoming = leads.filter(pl.col("created_at") >= month, ~pl.col("self_sourced"))
    laggard = np.isin(np.arange(SPEC.n_reps), truth["laggards"])
    totals = dict.fromkeys(("round_robin", "merit", "optimal", "true optimum"), 0.0)
    for territory in reps["territory"].unique().to_list():
        members = np.flatnonzero(reps["territory"].to_numpy() == territory)
        batch = incoming.filter(pl.col("territory") == territory)
        capacity = reps["capacity"].to_numpy()[members]
        # the truth: each rep's real effect on these (late, so laggards lag) leads
        effect_true = truth["skill"][members] - laggard[members] * 1.0
        true_p = 1 / (1 + np.exp(-(batch["lead_logit"].to_numpy()[:, None] + effect_true[None, :])))

        # what leadflow can know: close rates from history, shrunk; last month's for merit
        won, closed = rates(history, members)
        estimates = close_rates(won, closed)
        effect = np.log(estimates.mean / (1 - estimates.mean)) - np.log(
            estimates.prior.mean / (1 - estimates.prior.mean)
        )
        won_last, closed_last = rates(last_month, members)
        ones = np.ones((batch.height, members.size), dtype=bool)
        choices = {
            "round_robin": round_robin(ones, capacity)[0],
            "merit": merit(ones, capacity, close_rates=won_last / np.maximum(closed_last, 1)),
            "optimal": optimal(
                np.ones(members.size, dtype=bool),
                capacity,
                p_lead=batch["p_lead"].to_numpy(),
                rep_effect=effect,
                deal_value=1.0,
            )[0],
        }
        best = allocate_segments(true_p, np.ones(batch.height), capacity)
        choices["true optimum"] = deal_out(np.arange(batch.height), best.counts)
        for name, choice in choices.items():
            totals[name] += expected_wins(true_p, choice)
    gain = (totals["optimal"] - totals["round_robin"]) / (totals["true optimum"] - totals["round_robin"])
    print("\nexpected wins in the last month: " + ", ".join(f"{k} {v:,.1f}" for k, v in totals.items()))
    print(f"optimal reaches {gain:.0%} of the true optimum's gain over round-robin")
    assert gain >= 0.8
    assert totals["optimal"] > totals["merit"] > totals["round_robin"]
