"""The partner channel beside the direct reps: leads issued, worked, won, revenue, cost and ROI."""

from __future__ import annotations

import polars as pl
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from leadflow.analytics.query.filters import ReportFilter
from leadflow.analytics.query.states import has_bit, state_totals, weighed
from leadflow.analytics.sources import cost_per_lead
from leadflow.models import (
    Assignment,
    Lead,
    Partner,
    PartnerReport,
)
from leadflow.stats.rates import with_ratio

# channel_leads' state of a lead: given to a direct rep (owned, not self-sourced), worked, won
DIRECT, DIRECT_WORKED, DIRECT_WON = 1, 2, 4


def channel_leads(session: Session, *, filters: ReportFilter) -> pl.DataFrame:
    """Leads counted by source id and creation month, with how many of them went to a direct
    rep (owned, not self-sourced) and how many of those were worked and won, and what those
    earned: what the partner report costs leads by and compares partners with."""
    direct = and_(Lead.owner_id.is_not(None), Lead.self_sourced.is_(False))
    won = and_(direct, Lead.stage == "won")
    state = (
        case((direct, DIRECT), else_=0)
        + case((and_(direct, Lead.first_touch_at.is_not(None)), DIRECT_WORKED), else_=0)
        + case((won, DIRECT_WON), else_=0)
    )
    frame = state_totals(
        session,
        by=["source", "month"],
        filters=filters,
        state=state,
        states=2 * DIRECT_WON,
        values={"revenue": case((won, Lead.amount))},
    )
    code, w = pl.col("state"), pl.col("w")
    return frame.group_by("source_id", "month").agg(
        w.sum().alias("leads"),
        weighed(has_bit(code, DIRECT), w).sum().alias("direct"),
        weighed(has_bit(code, DIRECT_WORKED), w).sum().alias("direct_worked"),
        weighed(has_bit(code, DIRECT_WON), w).sum().alias("direct_won"),
        pl.col("w_revenue").sum().alias("direct_revenue"),
    )


def partners_report(session: Session, *, filters: ReportFilter) -> pl.DataFrame:
    """The partner channel beside the direct reps: leads issued (in the period), what the
    partner reported worked, won and earned for periods inside it, what those leads cost, the
    conversion won / issued with its 95% interval, and ROI. Partners report only in aggregate,
    so the direct reps' row uses the same measure (won / leads issued), not won / closed."""
    leads = channel_leads(session, filters=filters)
    cost_of = cost_per_lead(session, leads)
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
