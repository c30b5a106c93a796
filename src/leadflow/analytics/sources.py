"""Source ROI: leads, cost per lead, opportunity and won deal, revenue, ROI, conversion with its
interval, and sources that stopped working."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from leadflow.analytics.query.filters import ReportFilter, name_dimensions
from leadflow.analytics.query.states import (
    OUTCOME_CODES,
    PAST,
    PERIOD_STEP,
    RECENT,
    ever_opportunity,
    has_bit,
    outcome_code,
    period_code,
    state_totals,
    weighed,
)
from leadflow.analytics.reps import DAYS_PER_MONTH
from leadflow.models import (
    Lead,
    Source,
    utcnow,
)
from leadflow.stats.rates import lagging, with_ratio

# source_outcomes' state of a lead: ever an opportunity, its outcome's code (OUTCOME_CODES) and
# its period (as rep_outcomes')
OPPORTUNITY_ONCE, SOURCE_OUTCOME_STEP = 1, 2


def source_outcomes(
    session: Session, *, filters: ReportFilter, recent_start: datetime, past_start: datetime
) -> pl.DataFrame:
    """Per source: its costs, leads, opportunities, won, lost, revenue, the months it brought
    leads in, and won and lost of leads created in the past and recent windows.

    From the leads' states (ever an opportunity, outcome, period; ``state_totals``) by source
    and month, with the revenue of the won; the measures are summed in Polars."""
    state = (
        case((ever_opportunity(), OPPORTUNITY_ONCE), else_=0)
        + outcome_code() * SOURCE_OUTCOME_STEP
        + period_code(recent_start, past_start) * PERIOD_STEP
    )
    frame = state_totals(
        session,
        by=["source", "month"],
        filters=filters,
        state=state,
        states=PERIOD_STEP * 3,
        values={"revenue": case((Lead.stage == "won", Lead.amount))},
    )
    code, w = pl.col("state"), pl.col("w")
    outcome, period = (code // SOURCE_OUTCOME_STEP) % 4, code // PERIOD_STEP
    won, lost = outcome == OUTCOME_CODES["won"], outcome == OUTCOME_CODES["lost"]
    measures = {
        "leads": w,
        "opportunities": weighed(has_bit(code, OPPORTUNITY_ONCE), w),
        "won": weighed(won, w),
        "lost": weighed(lost, w),
        "revenue": pl.col("w_revenue"),
        "recent_won": weighed(won & (period == RECENT), w),
        "recent_lost": weighed(lost & (period == RECENT), w),
        "past_won": weighed(won & (period == PAST), w),
        "past_lost": weighed(lost & (period == PAST), w),
    }
    frame = (
        frame.group_by("source_id")
        .agg(*(m.sum().alias(name) for name, m in measures.items()), pl.col("month").drop_nulls().n_unique())
        .rename({"month": "months"})
        .with_columns(pl.col("months").cast(pl.Float64))
    )
    frame = name_dimensions(session, frame, ["source"], [*measures, "months"])
    costs = pl.DataFrame(
        session.execute(select(Source.name, Source.cost_per_lead, Source.monthly_spend)).all(),
        schema={"source": pl.String, "cost_per_lead": pl.Float64, "monthly_spend": pl.Float64},
        orient="row",
    ).unique("source", keep="first")
    return frame.join(costs, on="source", how="left")


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


def cost_per_lead(session: Session, monthly: pl.DataFrame) -> dict[int, float]:
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
