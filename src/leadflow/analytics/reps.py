"""Weak leads or weak closer: each rep's wins against what their leads promised, close rates with
shrinkage, the lead mix, and lagging reps."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import polars as pl
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from leadflow.analytics.query.filters import ReportFilter, name_dimensions, team_rep_ids
from leadflow.analytics.query.states import (
    OUTCOME_CODES,
    PAST,
    PERIOD_STEP,
    RECENT,
    SCORED,
    has_bit,
    outcome_code,
    period_code,
    state_totals,
    weighed,
    whole_counts,
)
from leadflow.analytics.scorecard import what_moved
from leadflow.models import Lead, Rep, utcnow
from leadflow.stats.close_rates import close_rates
from leadflow.stats.rates import Heterogeneity, expected_wins, heterogeneity, lagging, with_ratio


def rep_outcomes(
    session: Session, *, filters: ReportFilter, recent_start: datetime, past_start: datetime
) -> pl.DataFrame:
    """Per credited rep, weighted: leads, won, lost; over closed leads the sum of their win
    probabilities and of p(1 - p) (what the leads promised, and its variance); the mean win
    probability of all their leads (their mix); and won and lost of leads created in [past_start,
    recent_start) and from recent_start on.

    From the leads' states (outcome, scored, period; ``state_totals``) with the weighted sums
    of the probabilities; the measures are summed from the states in Polars."""
    p = Lead.win_probability
    closed_p = case((Lead.stage.in_(("won", "lost")), p))
    state = (
        outcome_code()
        + case((p.is_not(None), SCORED), else_=0)
        + period_code(recent_start, past_start) * PERIOD_STEP
    )
    frame = state_totals(
        session,
        by=["rep"],
        filters=filters,
        state=state,
        states=PERIOD_STEP * 3,
        values={"p": p, "closed_p": closed_p, "closed_pq": closed_p * (1 - closed_p)},
    )
    code, w = pl.col("state"), pl.col("w")
    outcome, scored, period = code % SCORED, has_bit(code, SCORED), code // PERIOD_STEP
    won, lost = outcome == OUTCOME_CODES["won"], outcome == OUTCOME_CODES["lost"]

    measures = {
        "leads": w,
        "won": weighed(won, w),
        "lost": weighed(lost, w),
        "scored_closed": weighed((won | lost) & scored, w),
        "won_scored": weighed(won & scored, w),
        "expected_won": pl.col("w_closed_p"),
        "expected_variance": pl.col("w_closed_pq"),
        "mix_sum": pl.col("w_p"),
        "mix_leads": weighed(scored, w),
        "recent_won": weighed(won & (period == RECENT), w),
        "recent_lost": weighed(lost & (period == RECENT), w),
        "past_won": weighed(won & (period == PAST), w),
        "past_lost": weighed(lost & (period == PAST), w),
    }
    frame = frame.select("owner_id", *(m.alias(name) for name, m in measures.items()))
    counts = [m for m in measures if m not in ("expected_won", "expected_variance", "mix_sum")]
    return whole_counts(name_dimensions(session, frame, ["rep"], list(measures)), counts)


# fewer closed leads than this and a rep's verdict would be noise
MIN_CLOSED_TO_JUDGE = 20

DAYS_PER_MONTH = 30.44


@dataclass
class RepsReport:
    """Per rep: close rate with interval and shrunk estimate, actual against expected wins, the
    mix of leads, the lagging flag and a verdict; and whether reps differ beyond chance."""

    table: pl.DataFrame
    spread: Heterogeneity
    scored: bool  # whether leads carry win probabilities (a trained model) to set expectations
    recent_start: datetime
    past_start: datetime


def _verdict(row: dict[str, object], team_mix: float) -> str:
    """A sentence a manager reads: what leads the rep got (their mean win probability against
    the company's) and what they won against what those leads promised, beyond chance or not."""
    closed = float(row["scored_closed"])  # type: ignore[arg-type]
    if closed < MIN_CLOSED_TO_JUDGE or row["difference_low"] is None:
        return f"too few closed leads to judge yet ({closed:.0f} of {MIN_CLOSED_TO_JUDGE})"
    mix = float(row["lead_mix"] or 0.0)  # type: ignore[arg-type]
    if mix < 0.85 * team_mix:
        got = "weak"
    elif mix > 1.15 * team_mix:
        got = "strong"
    else:
        got = "average"
    gap = abs(float(row["won_minus_expected"]))  # type: ignore[arg-type]
    if float(row["difference_high"]) < 0:  # type: ignore[arg-type]
        return f"got {got} leads, won {gap:.0f} fewer than they promised"
    if float(row["difference_low"]) > 0:  # type: ignore[arg-type]
        return f"got {got} leads, won {gap:.0f} more than they promised"
    if got == "weak":
        return "got weak leads, won what they promised: the leads, not the closer"
    return f"got {got} leads, won what they promised"


def reps_report(
    session: Session,
    *,
    filters: ReportFilter,
    as_of: datetime | None = None,
    recent_months: int = 3,
    past_months: int = 9,
) -> RepsReport:
    """Weak leads or weak closer: each rep's wins against what their leads' win probabilities
    (from a model that never sees the rep) promised, close rates with intervals, the lagging
    flag (recent months against the rep's own past and the rest of the team), and a test of
    whether the spread of close rates is more than chance."""
    as_of = as_of or session.scalar(select(func.max(Lead.created_at))) or utcnow()
    recent_start = as_of - timedelta(days=round(recent_months * DAYS_PER_MONTH))
    past_start = recent_start - timedelta(days=round(past_months * DAYS_PER_MONTH))
    # Every rep is judged against the whole company (the other filters applied), whichever team
    # is shown: a team's report is the company's rows for its reps, flags and estimates alike.
    shown = team_rep_ids(session, filters.team) if filters.team else None
    company = replace(filters, team=None)
    raw = rep_outcomes(session, filters=company, recent_start=recent_start, past_start=past_start)
    raw = raw.filter(pl.col("rep") != "(unassigned)")
    frame = with_ratio(raw.with_columns((pl.col("won") + pl.col("lost")).alias("closed")))
    won, closed = frame["won"].to_numpy(), frame["closed"].to_numpy()
    estimates = close_rates(won, closed)
    expectation = expected_wins(
        frame["won_scored"].to_numpy(),
        frame["expected_won"].to_numpy(),
        frame["expected_variance"].to_numpy(),
    )
    recent_closed = frame["recent_won"] + frame["recent_lost"]
    past_closed = frame["past_won"] + frame["past_lost"]
    lag = lagging(
        frame["recent_won"].to_numpy(),
        recent_closed.to_numpy(),
        frame["past_won"].to_numpy(),
        past_closed.to_numpy(),
    )
    frame = pl.concat([frame.drop("expected_won"), expectation, lag], how="horizontal").with_columns(
        pl.Series("estimate", estimates.mean),
        pl.Series("estimate_low", estimates.low),
        pl.Series("estimate_high", estimates.high),
        (pl.col("mix_sum") / pl.col("mix_leads")).alias("lead_mix"),
        (pl.col("recent_won") / recent_closed).alias("recent_ratio"),
        (pl.col("past_won") / past_closed).alias("past_ratio"),
        recent_closed.alias("recent_closed"),
    )
    # no scored closed lead, no expectation: empty, not "0 expected"
    frame = frame.with_columns(
        pl.when(pl.col("scored_closed") > 0).then(pl.col(c)).alias(c)
        for c in ("won_scored", "expected_won", "won_minus_expected", "difference_low", "difference_high")
    )
    mix_leads = float(frame["mix_leads"].sum())
    team_mix = float(frame["mix_sum"].sum()) / mix_leads if mix_leads else 0.0
    scored = float(frame["scored_closed"].sum()) > 0
    verdicts = [_verdict(row, team_mix) if scored else "no win probabilities on closed leads yet"
                for row in frame.iter_rows(named=True)]  # fmt: skip
    # what moved is told of lagging reps only: with none, the two windows' metrics go uncounted
    moved = (
        what_moved(
            session, past=(past_start, recent_start), recent=(recent_start, as_of + timedelta(seconds=1))
        )
        if frame["lagging"].any()
        else pl.DataFrame(schema={"rep": pl.String, "what_moved": pl.String})
    )
    frame = frame.with_columns(pl.Series("verdict", verdicts, dtype=pl.String)).join(
        moved, on="rep", how="left", maintain_order="left"
    ).with_columns(pl.when(pl.col("lagging")).then(pl.col("what_moved")).alias("what_moved")).select(
        "rep", "leads", "won", "lost", "conversion", "conversion_low", "conversion_high",
        "estimate", "estimate_low", "estimate_high",
        "scored_closed", "won_scored", "expected_won", "won_minus_expected",
        "difference_low", "difference_high",
        "lead_mix", "recent_closed", "recent_ratio", "past_ratio",
        "change", "team_change", "q_lagging", "lagging",
        "verdict", "what_moved",
    )  # fmt: skip
    if shown is not None:
        names = set(session.scalars(select(Rep.name).where(Rep.id.in_(shown))))
        frame = frame.filter(pl.col("rep").is_in(names))
        won, closed = frame["won"].to_numpy(), (frame["won"] + frame["lost"]).to_numpy()
    return RepsReport(frame, heterogeneity(won, closed), scored, recent_start, past_start)
