"""Funnel KPIs: stage to stage with intervals, speed to lead, capacity use, activities per won
deal, and the leads never worked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from leadflow.analytics.query.filters import ReportFilter, latest_date, lead_conditions, month_of
from leadflow.analytics.query.states import (
    STATES,
    count_where,
    grouped,
    lead_state,
    state_counts,
    state_totals,
    whole_counts,
)
from leadflow.analytics.sources import cost_per_lead
from leadflow.models import (
    Activity,
    Assignment,
    Lead,
    Rep,
    RepLoad,
)
from leadflow.stats.rates import with_ratio

SELF_SOURCED, NEVER_TOUCHED, NOT_TIMED = -3, -1, -5  # funnel_leads' speed key when it holds no hours

# twice any whole hours between two dates before the year 10,000
SPEED_BOUND = 2**28


def funnel_leads(session: Session, *, filters: ReportFilter, assigned_before: datetime) -> pl.DataFrame:
    """The funnel's one pass over the leads: counted by source id, creation month, channel
    (``self_sourced``), whether the lead is timed for speed to lead (``timed``: assigned before
    ``assigned_before``, not self-sourced) and, if so, whole hours from assignment to first touch
    (null: never touched); with how many of them reached the lead stage (assigned or moved on)
    and were ever opportunities, and every outcome count of conversion (``OUTCOMES``), so that
    the overview page sums conversion by month from the same pass.

    One GROUP BY rather than one per figure: on SQLite each sorts every lead.
    It groups by the keys and each lead's state (what it reached, worked or not, its outcome) as
    one small integer, and only counts; the figures are summed from the states in Polars."""
    hours = Lead.touch_seconds // 3600  # integer division: whole hours, truncated toward zero
    # The channel, timed and hours as one key, two sort columns fewer on SQLite: -3 when self-sourced;
    # when timed, twice the hours if touched, -1 if never; -5 when distributed but not timed (odd numbers,
    # so no hours).
    speed = case(
        (Lead.self_sourced.is_(True), SELF_SOURCED),
        (Lead.assigned_at < assigned_before, func.coalesce(hours * 2, NEVER_TOUCHED)),
        else_=NOT_TIMED,
    )
    frame = state_totals(
        session,
        by=["source", "month"],
        filters=filters,
        state=lead_state(),
        states=STATES,
        high=("speed", speed, SPEED_BOUND),
    )
    measures = state_counts(pl.col("w"))
    key = pl.col("speed").cast(pl.Int64)
    return (
        frame.with_columns(key)
        .group_by("source_id", "month", "speed")
        .agg(measure.sum().alias(name) for name, measure in measures.items())
        .select(
            "source_id",
            "month",
            (key == SELF_SOURCED).alias("self_sourced"),
            (~key.is_in([SELF_SOURCED, NOT_TIMED])).alias("timed"),
            pl.when(key % 2 == 0).then(key // 2).cast(pl.Float64).alias("hours"),
            *measures,
        )
    )


def won_activities(session: Session, *, filters: ReportFilter) -> tuple[float, float]:
    """Activities, and calls among them, logged on won leads."""
    won_leads = select(Lead.id).where(*lead_conditions(session, filters), Lead.stage == "won")
    activities, calls = session.execute(
        select(func.count(), count_where(Activity.kind == "call")).where(
            Activity.lead_id.in_(won_leads.scalar_subquery())
        )
    ).one()
    return float(activities or 0), float(calls or 0)


def capacity_use(session: Session, *, filters: ReportFilter) -> pl.DataFrame:
    """Per rep: leads issued to them (owner assignments) per month of the period, and capacity.

    Without filters beyond dates the period is when leads were issued: whole days are read
    from each rep's load per day (``rep_load``, a row per rep and day), other periods from the
    assignments' (role, at, rep) index."""
    only_dates = not (filters.team or filters.territory or filters.source or filters.lead_type)
    whole_days = all(
        d is None or d == datetime.combine(d.date(), time()) for d in (filters.since, filters.until)
    )
    query: Any
    if only_dates and whole_days:
        day_month = month_of(session, RepLoad.day)
        query = select(RepLoad.rep_id, day_month.label("month"), func.sum(RepLoad.issued))
        if filters.since:
            query = query.where(RepLoad.day >= filters.since.date())
        if filters.until:
            query = query.where(RepLoad.day < filters.until.date())
        query = query.group_by(RepLoad.rep_id, day_month)
    else:
        month = month_of(session, Assignment.at)
        query = select(Assignment.rep_id, month.label("month"), func.count()).where(
            Assignment.role == "owner"
        )
        if only_dates:
            if filters.since:
                query = query.where(Assignment.at >= filters.since)
            if filters.until:
                query = query.where(Assignment.at < filters.until)
        else:
            query = query.join(Lead, Lead.id == Assignment.lead_id).where(*lead_conditions(session, filters))
        query = query.group_by(Assignment.rep_id, month)
    issued = grouped(session, query, ["rep_id", "month", "leads"])
    reps = pl.DataFrame(
        session.execute(select(Rep.id, Rep.name, Rep.capacity)).all(),
        schema={"rep_id": pl.Int64, "rep": pl.String, "capacity": pl.Float64},
        orient="row",
    )
    return (
        issued.with_columns(pl.col("rep_id").cast(pl.Int64), pl.col("leads").cast(pl.Float64))
        .join(reps, on="rep_id")
        .select("rep", "capacity", "month", "leads")
    )


SPEED_BUCKETS = ((0, 1, "under 1 hour"), (1, 4, "1-4 hours"), (4, 24, "4-24 hours"),
                 (24, 72, "1-3 days"), (72, float("inf"), "over 3 days"))  # fmt: skip

# a lead assigned more recently than this may simply not have been reached yet
NEVER_WORKED_AFTER = timedelta(days=7)


@dataclass
class FunnelReport:
    """Funnel KPIs: stage-to-stage ratios, speed to lead and conversion by speed, leads per rep
    against capacity, activities per won deal, and the leads never worked and what they cost."""

    stages: pl.DataFrame
    speed: pl.DataFrame
    speed_hours: dict[str, float | None]  # median, 75th and 90th percentile (whole hours, upper bound)
    capacity: pl.DataFrame
    activities_per_won: float | None
    calls_per_won: float | None
    assigned: float
    never_worked: float
    never_worked_cost: float | None
    as_of: datetime

    def as_dict(self) -> dict[str, Any]:
        """The whole report as one document (for JSON)."""
        return {
            "as_of": self.as_of,
            "stages": self.stages.to_dicts(),
            "speed": self.speed.to_dicts(),
            "speed_hours": self.speed_hours,
            "capacity": self.capacity.to_dicts(),
            "activities_per_won": self.activities_per_won,
            "calls_per_won": self.calls_per_won,
            "assigned": self.assigned,
            "never_worked": self.never_worked,
            "never_worked_cost": self.never_worked_cost,
        }


def capacity_report(session: Session, *, filters: ReportFilter) -> pl.DataFrame:
    """Per rep: leads issued per month (over the months they got any) against their capacity."""
    return (
        capacity_use(session, filters=filters)
        .group_by("rep", "capacity")
        .agg(pl.col("month").n_unique().alias("months"), pl.col("leads").sum())
        .with_columns((pl.col("leads") / pl.col("months")).alias("leads_per_month"))
        .with_columns((pl.col("leads_per_month") / pl.col("capacity")).alias("capacity_use"))
        .sort("rep")
    )


def _quantile_hours(hours: np.ndarray, weights: np.ndarray, q: float) -> float | None:
    if weights.sum() == 0:
        return None
    order = np.argsort(hours)
    cumulative = np.cumsum(weights[order]) / weights.sum()
    return float(hours[order][np.searchsorted(cumulative, q)] + 1)


def funnel_report(session: Session, *, filters: ReportFilter, as_of: datetime | None = None) -> FunnelReport:
    """Inquiry to lead to opportunity to won, how fast leads are first touched and what that
    does to conversion, how much of each rep's capacity is used, and what unworked leads cost."""
    as_of = as_of or latest_date(session)
    leads = funnel_leads(session, filters=filters, assigned_before=as_of - NEVER_WORKED_AFTER)
    return funnel_from_leads(session, leads=leads, filters=filters, as_of=as_of)


def funnel_from_leads(
    session: Session, *, leads: pl.DataFrame, filters: ReportFilter, as_of: datetime
) -> FunnelReport:
    """The funnel from its pass over the leads (``funnel_leads``) and the few counts it adds."""
    totals = leads.select(pl.col("leads", "reached_lead", "opportunity", "won").sum()).row(0, named=True)
    counts = {
        "inquiry": totals["leads"],
        "lead": totals["reached_lead"],
        "opportunity": totals["opportunity"],
        "won": totals["won"],
    }
    steps = [("inquiry", "lead"), ("lead", "opportunity"), ("opportunity", "won"), ("inquiry", "opportunity")]
    stages = with_ratio(
        pl.DataFrame(
            {
                "step": [f"{a} to {b}" for a, b in steps],
                "from": [counts[a] for a, _ in steps],
                "reached": [counts[b] for _, b in steps],
            }
        ),
        won="reached",
        closed="from",
    )
    speed = (
        leads.filter(pl.col("timed")).group_by("hours", "source_id").agg(pl.col("leads", "won", "lost").sum())
    )
    touched = speed.filter(pl.col("hours").is_not_null())
    hours, weights = touched["hours"].to_numpy(), touched["leads"].to_numpy()
    bucket = pl.lit("never worked")
    for low, high, label in reversed(SPEED_BUCKETS):
        bucket = (
            pl.when((pl.col("hours") >= low) & (pl.col("hours") < high)).then(pl.lit(label)).otherwise(bucket)
        )
    order = [label for *_, label in SPEED_BUCKETS] + ["never worked"]
    by_speed = (
        speed.with_columns(bucket.alias("speed"))
        .group_by("speed")
        .agg(pl.col("leads").sum(), pl.col("won").sum(), pl.col("lost").sum())
        .with_columns((pl.col("won") + pl.col("lost")).alias("closed"))
        .sort(pl.col("speed").replace_strict(order, list(range(len(order)))))
    )
    never = speed.filter(pl.col("hours").is_null())
    cost_of = cost_per_lead(session, leads.group_by("source_id", "month").agg(pl.col("leads").sum()))
    never_cost = [cost_of.get(source_id) for source_id in never["source_id"].to_list()]
    known = [(c, n) for c, n in zip(never_cost, never["leads"].to_list(), strict=True) if c is not None]
    capacity = capacity_report(session, filters=filters)
    won = counts["won"]
    activities, calls = won_activities(session, filters=filters)
    return FunnelReport(
        stages=whole_counts(stages, ("from", "reached")),
        speed=whole_counts(with_ratio(by_speed), ("leads", "won", "lost", "closed")),
        speed_hours={f"p{int(q * 100)}": _quantile_hours(hours, weights, q) for q in (0.5, 0.75, 0.9)},
        capacity=whole_counts(capacity, ("capacity", "leads")),
        # no activity at all on won leads means none were recorded, not deals won without contact
        activities_per_won=activities / won if won and activities else None,
        calls_per_won=calls / won if won and activities else None,
        assigned=float(speed["leads"].sum()),
        never_worked=float(never["leads"].sum()),
        never_worked_cost=sum(c * n for c, n in known) if known else None,
        as_of=as_of,
    )
