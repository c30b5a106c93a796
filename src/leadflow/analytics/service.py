"""Report services the CLI, API and dashboard share; each returns frames, never renders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadflow.analytics.ledger import (
    OUTCOMES,
    ReportFilter,
    capacity_use,
    channel_leads,
    closing_times,
    count_by,
    funnel_leads,
    name_dimensions,
    rep_outcomes,
    source_outcomes,
    won_activities,
)
from leadflow.analytics.profile import lift_table, suggest_criteria
from leadflow.analytics.rates import Heterogeneity, expected_wins, heterogeneity, lagging, with_ratio
from leadflow.analytics.survival import aalen_johansen
from leadflow.models import Assignment, Lead, Partner, PartnerReport, ScoreModel, Source, utcnow
from leadflow.routing.estimates import close_rates
from leadflow.scoring.learned_from import learned_from
from leadflow.scoring.service import labelled_leads
from leadflow.settings import Criterion


@dataclass
class ProfileReport:
    """What converts: one row per attribute value, the base rate, and a suggested profile; counted
    when model ``model_id`` was trained, or now from the ledger (``model_id`` None)."""

    table: pl.DataFrame
    base_rate: float
    leads: int
    horizon_days: float
    suggested: list[Criterion]
    as_of: datetime
    model_id: int | None


def profile_report(session: Session, *, fresh: bool = False, now: datetime | None = None) -> ProfileReport:
    """Conversion and lift of every attribute value over leads with a known outcome: those the
    latest model learned from, or with ``fresh`` (or a ``now``) those the ledger holds now."""
    model = None
    if not fresh and now is None:
        model = session.execute(
            select(ScoreModel.id, ScoreModel.trained_at, ScoreModel.horizon_days, ScoreModel.learned_from)
            .order_by(ScoreModel.id.desc())
            .limit(1)
        ).first()
    if model is not None and model.learned_from is not None:
        counts, model_id = model.learned_from, model.id
        horizon, now = model.horizon_days, model.trained_at
    else:
        labelled, horizon, now = labelled_leads(session, now=now)
        counts = learned_from(labelled) if labelled.height else None
        model_id = None
    if counts is None:
        return ProfileReport(pl.DataFrame(), 0.0, 0, horizon, [], now, model_id)
    table = lift_table(pl.DataFrame(counts["values"]), leads=counts["leads"], won=counts["won"])
    return ProfileReport(
        table=table,
        base_rate=counts["won"] / counts["leads"],
        leads=counts["leads"],
        horizon_days=horizon,
        suggested=suggest_criteria(table, counts["numeric"]),
        as_of=now,
        model_id=model_id,
    )


def _conversion_dimensions(by: list[str]) -> list[str]:
    """A conversion report's columns for ``by``: the channel always, the lead type by its name."""
    by = ["lead_type" if d == "type" else d for d in by]  # design.md's name for it
    return by if "channel" in by else ["channel", *by]


def conversion_report(session: Session, *, by: list[str], filters: ReportFilter) -> pl.DataFrame:
    """Leads in, worked, won, lost, open and the ratio won / (won + lost) with its 95% interval,
    for each combination of ``by``; distributed and self-sourced leads always apart."""
    return with_ratio(count_by(session, by=_conversion_dimensions(by), filters=filters))


def rolled_up(conversion: pl.DataFrame, *, by: list[str]) -> pl.DataFrame:
    """A conversion report summed to fewer of its dimensions (``by``; the channel is always kept):
    the counts add up, the ratios are made again. For a page that shows both, one pass, not two."""
    dimensions = _conversion_dimensions(by)
    counts = [c for c, t in conversion.schema.items() if t.is_numeric() and not c.startswith("conversion")]
    summed = conversion.group_by(dimensions).agg(pl.col(counts).sum()).sort(dimensions, nulls_last=True)
    return with_ratio(summed)


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
    closed = float(row["scored_closed"])  # type: ignore[arg-type]
    if closed < MIN_CLOSED_TO_JUDGE or row["difference_low"] is None:
        return f"too few closed leads to judge (under {MIN_CLOSED_TO_JUDGE})"
    mix = float(row["lead_mix"] or 0.0)  # type: ignore[arg-type]
    weak_mix = mix < 0.85 * team_mix
    if float(row["difference_high"]) < 0:  # type: ignore[arg-type]
        return "below what their leads promised: handling" + (" (and a weak mix)" if weak_mix else "")
    if float(row["difference_low"]) > 0:  # type: ignore[arg-type]
        return "above what their leads promised"
    if weak_mix:
        return "as their leads promised, on a weak mix: weak leads"
    return "as their leads promised"


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
    raw = rep_outcomes(session, filters=filters, recent_start=recent_start, past_start=past_start)
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
    frame = frame.with_columns(pl.Series("verdict", verdicts, dtype=pl.String)).select(
        "rep", "leads", "won", "lost", "conversion", "conversion_low", "conversion_high",
        "estimate", "estimate_low", "estimate_high",
        "scored_closed", "won_scored", "expected_won", "won_minus_expected",
        "difference_low", "difference_high",
        "lead_mix", "recent_closed", "recent_ratio", "past_ratio",
        "change", "team_change", "q_lagging", "lagging",
        "verdict",
    )  # fmt: skip
    return RepsReport(frame, heterogeneity(won, closed), scored, recent_start, past_start)


HORIZONS_MONTHS = (1, 2, 3, 6, 9, 12)


def latest_date(session: Session) -> datetime:
    """The newest date the ledger knows (a lead created, won or lost): "now" for its history."""
    # each the last entry of an index: the reports' (by creation) and the won and lost dates' own
    newest = [
        session.scalar(select(func.max(column)).where(column.is_not(None)))
        for column in (Lead.created_at, Lead.won_at, Lead.lost_at)
    ]
    known = [d for d in newest if d is not None]
    return max(known) if known else utcnow()


@dataclass
class CohortReport:
    """Per monthly cohort and overall ("all"): counts and the share won (and lost) within each
    horizon, open leads as censored and loss as a competing outcome; null beyond follow-up."""

    table: pl.DataFrame
    as_of: datetime
    horizons: tuple[int, ...]

    def sentence(self, cohort: str = "all") -> str:
        """'10% within 3 months, 26% within 6, 45% within 12' for one cohort."""
        row = self.table.filter(pl.col("cohort") == cohort).row(0, named=True)
        parts = [
            (h, row[f"won_{h}m"]) for h in self.horizons if h in (3, 6, 12) and row[f"won_{h}m"] is not None
        ]
        if not parts:
            return "too early to tell: no cohort has been followed for 3 months yet"
        text = [f"{share:.0%} within {h} months" if i == 0 else f"{share:.0%} within {h}"
                for i, (h, share) in enumerate(parts)]  # fmt: skip
        return ", ".join(text)


def cohorts_report(
    session: Session,
    *,
    filters: ReportFilter,
    as_of: datetime | None = None,
    horizons: tuple[int, ...] = HORIZONS_MONTHS,
) -> CohortReport:
    """Time to close: for each monthly cohort and all leads together, the cumulative share won
    (and lost) by months since creation (Aalen-Johansen)."""
    as_of = as_of or latest_date(session)
    times = closing_times(session, filters=filters, as_of=as_of)
    days = [round(h * DAYS_PER_MONTH) for h in horizons]
    rows = []
    cohorts = sorted(times["cohort"].unique().to_list()) if not times.is_empty() else []
    for cohort in [*cohorts, "all"]:
        part = times if cohort == "all" else times.filter(pl.col("cohort") == cohort)
        if part.is_empty():
            continue
        count = {o: part.filter(pl.col("outcome") == o) for o in ("won", "lost", "open")}
        time = part["days"].to_numpy()
        weight = part["leads"].to_numpy()
        outcome = part["outcome"].to_numpy()
        curve = aalen_johansen(
            time, weight * (outcome == "won"), weight * (outcome == "lost"), weight * (outcome == "open")
        )
        won_at, lost_at = curve.at(np.array(days, dtype=float))
        row: dict[str, object] = {
            "cohort": cohort,
            "leads": float(part["leads"].sum()),
            **{o: float(count[o]["leads"].sum()) for o in ("won", "lost", "open")},
            "follow_up_days": curve.follow_up,
        }
        for h, w, lost in zip(horizons, won_at, lost_at, strict=True):
            row[f"won_{h}m"] = None if np.isnan(w) else float(w)
            row[f"lost_{h}m"] = None if np.isnan(lost) else float(lost)
        rows.append(row)
    schema = {"cohort": pl.String, "leads": pl.Float64, "won": pl.Float64, "lost": pl.Float64,
              "open": pl.Float64, "follow_up_days": pl.Float64,
              **{f"{o}_{h}m": pl.Float64 for h in horizons for o in ("won", "lost")}}  # fmt: skip
    return CohortReport(pl.DataFrame(rows, schema=schema), as_of, horizons)


@dataclass
class SourcesReport:
    """Per source: volume, cost per lead, opportunity and won deal, revenue, ROI, conversion
    with its interval, and whether it stopped working (its recent drop beyond the others')."""

    table: pl.DataFrame
    recent_start: datetime
    past_start: datetime


def sources_report(
    session: Session,
    *,
    filters: ReportFilter,
    as_of: datetime | None = None,
    recent_months: int = 3,
    past_months: int = 9,
) -> SourcesReport:
    """Source ROI: what each source cost (cost per lead times leads, plus monthly spend for each
    month it brought leads in), what its leads won, and whether it still works."""
    as_of = as_of or session.scalar(select(func.max(Lead.created_at))) or utcnow()
    recent_start = as_of - timedelta(days=round(recent_months * DAYS_PER_MONTH))
    past_start = recent_start - timedelta(days=round(past_months * DAYS_PER_MONTH))
    raw = source_outcomes(session, filters=filters, recent_start=recent_start, past_start=past_start)
    if raw.is_empty():
        return SourcesReport(raw, recent_start, past_start)
    frame = with_ratio(raw.with_columns((pl.col("won") + pl.col("lost")).alias("closed"), source_cost()))
    recent_closed = frame["recent_won"] + frame["recent_lost"]
    past_closed = frame["past_won"] + frame["past_lost"]
    drop = lagging(
        frame["recent_won"].to_numpy(),
        recent_closed.to_numpy(),
        frame["past_won"].to_numpy(),
        past_closed.to_numpy(),
    ).rename({"lagging": "stopped_working", "q_lagging": "q_stopped"})

    def per(column: str) -> pl.Expr:
        return pl.when(pl.col(column) > 0).then(pl.col("cost") / pl.col(column))

    frame = pl.concat([frame, drop], how="horizontal").with_columns(
        per("leads").alias("cost_per_lead_actual"),
        per("opportunities").alias("cost_per_opportunity"),
        per("won").alias("cost_per_won"),
        pl.when(pl.col("cost") > 0).then((pl.col("revenue") - pl.col("cost")) / pl.col("cost")).alias("roi"),
        (pl.col("recent_won") / recent_closed).alias("recent_ratio"),
        (pl.col("past_won") / past_closed).alias("past_ratio"),
    )
    table = frame.select(
        "source", "leads", "opportunities", "won", "lost", "conversion", "conversion_low", "conversion_high",
        "cost", "cost_per_lead_actual", "cost_per_opportunity", "cost_per_won", "revenue", "roi",
        "past_ratio", "recent_ratio", "change", "team_change", "q_stopped", "stopped_working",
    ).sort("roi", descending=True, nulls_last=True)  # fmt: skip
    return SourcesReport(table, recent_start, past_start)


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
    return _funnel(session, leads=leads, filters=filters, as_of=as_of)


def _funnel(session: Session, *, leads: pl.DataFrame, filters: ReportFilter, as_of: datetime) -> FunnelReport:
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
    cost_of = _cost_per_lead(session, leads.group_by("source_id", "month").agg(pl.col("leads").sum()))
    never_cost = [cost_of.get(source_id) for source_id in never["source_id"].to_list()]
    known = [(c, n) for c, n in zip(never_cost, never["leads"].to_list(), strict=True) if c is not None]
    capacity = capacity_report(session, filters=filters)
    won = counts["won"]
    activities, calls = won_activities(session, filters=filters)
    return FunnelReport(
        stages=stages,
        speed=with_ratio(by_speed),
        speed_hours={f"p{int(q * 100)}": _quantile_hours(hours, weights, q) for q in (0.5, 0.75, 0.9)},
        capacity=capacity,
        # no activity at all on won leads means none were recorded, not deals won without contact
        activities_per_won=activities / won if won and activities else None,
        calls_per_won=calls / won if won and activities else None,
        assigned=float(speed["leads"].sum()),
        never_worked=float(never["leads"].sum()),
        never_worked_cost=sum(c * n for c, n in known) if known else None,
        as_of=as_of,
    )


@dataclass
class Overview:
    """The dashboard's first page: conversion by channel and month, the same in total, the funnel."""

    months: pl.DataFrame
    totals: pl.DataFrame
    funnel: FunnelReport


def overview_report(session: Session, *, filters: ReportFilter) -> Overview:
    """Conversion by month and in total, and the funnel as of the ledger's date: all from the
    funnel's one pass over the leads, which counts what conversion by month counts."""
    as_of = latest_date(session)
    cutoff = as_of - NEVER_WORKED_AFTER
    leads = funnel_leads(session, filters=filters, assigned_before=cutoff)
    by = _conversion_dimensions(["month"])
    months = with_ratio(name_dimensions(session, leads, by, list(OUTCOMES)))
    return Overview(
        months, rolled_up(months, by=[]), _funnel(session, leads=leads, filters=filters, as_of=as_of)
    )


def source_cost() -> pl.Expr:
    """What a source's leads cost (``cost``): cost per lead times leads, plus monthly spend for
    each month it brought leads in; null when the source has neither."""
    per_lead = pl.col("cost_per_lead") * pl.col("leads")
    spend = pl.col("monthly_spend") * pl.col("months")
    return (
        pl.when(pl.col("cost_per_lead").is_null() & pl.col("monthly_spend").is_null())
        .then(None)
        .otherwise(per_lead.fill_null(0.0) + spend.fill_null(0.0))
        .alias("cost")
    )


def _cost_per_lead(session: Session, monthly: pl.DataFrame) -> dict[int, float]:
    """What each source's leads cost apiece (see :func:`source_cost`), by source id, from leads
    counted by ``source_id`` and ``month``; sources sharing a name are costed together."""
    sources = pl.DataFrame(
        session.execute(select(Source.id, Source.name, Source.cost_per_lead, Source.monthly_spend)).all(),
        schema={
            "source_id": pl.Int64,
            "source": pl.String,
            "cost_per_lead": pl.Float64,
            "monthly_spend": pl.Float64,
        },
        orient="row",
    )
    per_source = (
        monthly.filter(pl.col("leads") > 0)
        .join(sources.select("source_id", "source"), on="source_id")
        .group_by("source")
        .agg(pl.col("leads").sum(), pl.col("month").n_unique().alias("months"))
    )
    apiece = per_source.join(sources, on="source").with_columns(source_cost()).drop_nulls("cost")
    return dict(zip(apiece["source_id"].to_list(), (apiece["cost"] / apiece["leads"]).to_list(), strict=True))


def partners_report(session: Session, *, filters: ReportFilter) -> pl.DataFrame:
    """The partner channel beside the direct reps: leads issued (in the period), what the
    partner reported worked, won and earned for periods inside it, what those leads cost, the
    conversion won / issued with its 95% interval, and ROI. Partners report only in aggregate,
    so the direct reps' row uses the same measure (won / leads issued), not won / closed."""
    leads = channel_leads(session, filters=filters)
    cost_of = _cost_per_lead(session, leads)
    issued_at = []
    if filters.since:
        issued_at.append(Assignment.at >= filters.since)
    if filters.until:
        issued_at.append(Assignment.at < filters.until)
    issued = session.execute(
        select(Partner.name, Lead.source_id, func.count())
        .select_from(Assignment)
        .join(Partner, Partner.id == Assignment.partner_id)
        .join(Lead, Lead.id == Assignment.lead_id)
        .where(*issued_at)
        .group_by(Partner.name, Lead.source_id)
    ).all()
    periods = []
    if filters.since:
        periods.append(PartnerReport.period_start >= filters.since)
    if filters.until:
        periods.append(PartnerReport.period_end <= filters.until)
    reported = {
        name: (float(w or 0), float(n or 0), float(r or 0))
        for name, w, n, r in session.execute(
            select(
                Partner.name,
                func.sum(PartnerReport.leads_worked),
                func.sum(PartnerReport.won),
                func.sum(PartnerReport.revenue),
            )
            .join(Partner, Partner.id == PartnerReport.partner_id)
            .where(*periods)
            .group_by(Partner.name)
        ).all()
    }
    rows: dict[str, dict[str, object]] = {}
    for name, source_id, count in issued:
        row = rows.setdefault(name, {"channel": "partner", "name": name, "issued": 0.0, "cost": 0.0})
        row["issued"] = float(row["issued"]) + count  # type: ignore[arg-type]
        row["cost"] = float(row["cost"]) + cost_of.get(source_id, 0.0) * count  # type: ignore[arg-type]
    for name in reported:
        rows.setdefault(name, {"channel": "partner", "name": name, "issued": 0.0, "cost": 0.0})
    for name, row in rows.items():
        worked, won, revenue = reported.get(name, (0.0, 0.0, 0.0))
        row |= {"worked": worked, "won": won, "revenue": revenue}
    direct = (
        leads.with_columns(pl.col("source_id").replace_strict(cost_of, default=0.0).alias("apiece"))
        .select(
            pl.col("direct").sum().alias("issued"),
            (pl.col("apiece") * pl.col("direct")).sum().alias("cost"),
            pl.col("direct_worked").sum().alias("worked"),
            pl.col("direct_won").sum().alias("won"),
            pl.col("direct_revenue").sum().alias("revenue"),
        )
        .row(0, named=True)
    )
    if direct["issued"] > 0:
        rows["direct reps"] = {"channel": "direct", "name": "direct reps", **direct}
    schema = {"channel": pl.String, "name": pl.String, "issued": pl.Float64, "cost": pl.Float64,
              "worked": pl.Float64, "won": pl.Float64, "revenue": pl.Float64}  # fmt: skip
    frame = pl.DataFrame(list(rows.values()), schema=schema)
    return with_ratio(frame, won="won", closed="issued").with_columns(
        pl.when(pl.col("cost") > 0).then((pl.col("revenue") - pl.col("cost")) / pl.col("cost")).alias("roi")
    )
