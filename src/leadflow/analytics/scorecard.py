"""The scorecard: each goal in force, its target, the actual so far, where the period is heading,
and whether the rep (or team) is on track.

Actuals count the leads created in the goal's period that the rep owns (a team's: its reps'),
as the conversion report does: leads, worked and won are that report's own counts (split credit
by share), so a scorecard and `report conversion --by rep` over the same dates agree. Counts
(wins, revenue, opportunities) are projected to the period's end in proportion to the time
elapsed; rates and medians are taken as they stand, rates with their 95% Wilson interval.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadflow.analytics.conversion import with_maturity
from leadflow.analytics.query.filters import ReportFilter, latest_date, name_dimensions, owner_names
from leadflow.analytics.query.states import count_by, ever_opportunity
from leadflow.models import GOAL_METRICS, Activity, Goal, Lead, Rep, Team
from leadflow.pipeline.coaching import goals_in_force, month_of
from leadflow.scoring.service import usual_time_to_close
from leadflow.stats.intervals import wilson

LOWER_IS_BETTER = ("first_touch_hours", "activities_per_win")
RATES = ("leads_worked", "conversion")
COUNTS = ("wins", "revenue", "opportunities")
WORK_KINDS = ("call", "email", "meeting")
# each goal metric as a manager reads it
METRIC_WORDS = {
    "leads_worked": "leads worked (share with a first touch)",
    "first_touch_hours": "median hours to first touch",
    "activities_per_win": "calls, emails and meetings per win",
    "opportunities": "opportunities created",
    "conversion": "conversion (won of closed)",
    "wins": "deals won",
    "revenue": "revenue won",
}


def period_metrics(session: Session, *, by: str, since: datetime, until: datetime) -> pl.DataFrame:
    """Every metric a goal can name, for each rep (``by="rep"``) or team, over the leads created
    in [since, until): with the counts behind the rates."""
    filters = ReportFilter(since=since, until=until)
    counts = count_by(session, by=[by], filters=filters)
    created = (Lead.created_at >= since, Lead.created_at < until, Lead.owner_id.is_not(None))
    extra = pl.DataFrame(
        session.execute(
            select(
                Lead.owner_id,
                func.coalesce(func.sum(Lead.amount).filter(Lead.stage == "won"), 0.0),
                func.count().filter(ever_opportunity()),
            )
            .where(*created)
            .group_by(Lead.owner_id)
        ).all(),
        schema={"owner_id": pl.Int64, "revenue": pl.Float64, "opportunities": pl.Int64},
        orient="row",
    )
    activities = pl.DataFrame(
        session.execute(
            select(Lead.owner_id, func.count(Activity.id))
            .join(Activity, Activity.lead_id == Lead.id)
            .where(*created, Activity.kind.in_(WORK_KINDS))
            .group_by(Lead.owner_id)
        ).all(),
        schema={"owner_id": pl.Int64, "activities": pl.Int64},
        orient="row",
    )
    summed = name_dimensions(
        session,
        extra.join(activities, on="owner_id", how="full", coalesce=True).fill_null(0),
        [by],
        ["revenue", "opportunities", "activities"],
    )
    touches = pl.DataFrame(
        session.execute(
            select(Lead.owner_id, Lead.assigned_at, Lead.first_touch_at).where(
                *created, Lead.first_touch_at.is_not(None), Lead.assigned_at.is_not(None)
            )
        ).all(),
        schema={"owner_id": pl.Int64, "assigned_at": pl.Datetime("us"), "first_touch_at": pl.Datetime("us")},
        orient="row",
    )
    hours = (pl.col("first_touch_at") - pl.col("assigned_at")).dt.total_seconds() / 3600
    medians = (
        touches.with_columns(owner_names(session, by).alias(by))
        .group_by(by)
        .agg(hours.median().alias("first_touch_hours"))
    )
    measures = [c for c in (*counts.columns, *summed.columns) if c != by]
    frame = (
        counts.join(summed, on=by, how="full", coalesce=True)
        .with_columns(pl.col(measures).fill_null(0))
        .join(medians, on=by, how="left")
    )
    return frame.with_columns(
        pl.when(pl.col("won") > 0).then(pl.col("activities") / pl.col("won")).alias("activities_per_win"),
        pl.when(pl.col("leads") > 0).then(pl.col("worked") / pl.col("leads")).alias("leads_worked"),
        pl.when(pl.col("closed") > 0).then(pl.col("won") / pl.col("closed")).alias("conversion"),
        pl.col("won").alias("wins"),
    )


def scorecard(
    session: Session, *, on: datetime, team: Team | None = None, rep: Rep | None = None
) -> pl.DataFrame:
    """Each goal in force on ``on`` (of a team's reps and the team, of one rep, or all): who, the
    metric, target, actual (with its interval if a rate), projection to the period's end, and
    whether on track; None where the period has no data for the metric yet."""
    goals = goals_in_force(session, on=on.date(), team_id=team.id if team else None)
    if rep is not None:
        goals = [g for g in goals if g.rep_id == rep.id]
    rep_names = dict(session.execute(select(Rep.id, Rep.name)).all())
    team_names = dict(session.execute(select(Team.id, Team.name)).all())
    rows: list[dict[str, Any]] = []
    cache: dict[tuple[str, date, date], dict[str, dict[str, Any]]] = {}
    for goal in goals:
        by = "rep" if goal.rep_id is not None else "team"
        key = (by, goal.starts_on, goal.ends_on)
        if key not in cache:
            start, end = _midnight(goal.starts_on), _midnight(goal.ends_on)
            metrics = period_metrics(session, by=by, since=start, until=end)
            cache[key] = {row[by]: row for row in metrics.iter_rows(named=True)}
        who = rep_names.get(goal.rep_id) if goal.rep_id is not None else team_names.get(goal.team_id or 0)
        rows.append(_row(goal, by, who or "?", cache[key].get(who or ""), on))
    return (
        pl.DataFrame(rows, schema=SCORECARD_SCHEMA, orient="row")
        if rows
        else pl.DataFrame(schema=SCORECARD_SCHEMA)
    )


SCORECARD_SCHEMA: dict[str, pl.DataType] = {
    "who": pl.String(),
    "level": pl.String(),
    "metric": pl.String(),
    "target": pl.Float64(),
    "actual": pl.Float64(),
    "low": pl.Float64(),
    "high": pl.Float64(),
    "projected": pl.Float64(),
    "on_track": pl.Boolean(),
    "starts_on": pl.Date(),
    "ends_on": pl.Date(),
    "elapsed": pl.Float64(),
}


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min)


def _row(goal: Goal, by: str, who: str, metrics: dict[str, Any] | None, on: datetime) -> dict[str, Any]:
    start, end = _midnight(goal.starts_on), _midnight(goal.ends_on)
    elapsed = float(np.clip((on - start) / (end - start), 0.0, 1.0))
    actual = None if metrics is None else metrics.get(goal.metric)
    low = high = None
    if metrics is not None and goal.metric in RATES and actual is not None:
        won, n = (
            (metrics["worked"], metrics["leads"])
            if goal.metric == "leads_worked"
            else (metrics["won"], metrics["closed"])
        )
        lo, hi = wilson(np.array([won]), np.array([n]))
        low, high = float(lo[0]), float(hi[0])
    projected = None
    if actual is not None:
        projected = actual / elapsed if goal.metric in COUNTS and elapsed > 0 else actual
    on_track = None
    if projected is not None:
        on_track = projected <= goal.target if goal.metric in LOWER_IS_BETTER else projected >= goal.target
    return {
        "who": who,
        "level": by,
        "metric": goal.metric,
        "target": goal.target,
        "actual": None if actual is None else float(actual),
        "low": low,
        "high": high,
        "projected": None if projected is None else float(projected),
        "on_track": on_track,
        "starts_on": goal.starts_on,
        "ends_on": goal.ends_on,
        "elapsed": elapsed,
    }


def what_moved(
    session: Session, *, past: tuple[datetime, datetime], recent: tuple[datetime, datetime]
) -> pl.DataFrame:
    """For each rep, in words, which of the habits behind results moved from the past window to
    the recent one (leads worked, speed to first touch, activities per win), so that a coaching
    note starts from evidence: rep, what_moved."""
    before = period_metrics(session, by="rep", since=past[0], until=past[1])
    after = period_metrics(session, by="rep", since=recent[0], until=recent[1])
    columns = ["rep", "leads_worked", "first_touch_hours", "activities_per_win"]
    both = before.select(columns).join(after.select(columns), on="rep", suffix="_recent")
    texts = []
    for row in both.iter_rows(named=True):
        texts.append(_moved(row))
    return pl.DataFrame(
        {"rep": both["rep"], "what_moved": texts}, schema={"rep": pl.String, "what_moved": pl.String}
    )


def _moved(row: dict[str, Any]) -> str:
    found = []
    worked, worked_now = row["leads_worked"], row["leads_worked_recent"]
    if worked is not None and worked_now is not None and worked_now < worked - 0.05:
        found.append(f"worked {worked:.0%} of their leads, now {worked_now:.0%}")
    touch, touch_now = row["first_touch_hours"], row["first_touch_hours_recent"]
    if touch is not None and touch_now is not None and touch_now > 1.5 * touch and touch_now - touch > 1:
        found.append(f"first touch took {touch:.1f} h (median), now {touch_now:.1f} h")
    effort, effort_now = row["activities_per_win"], row["activities_per_win_recent"]
    if effort is not None and effort_now is not None and effort_now > 1.3 * effort:
        found.append(f"{effort:.0f} calls, emails and meetings per win, now {effort_now:.0f}")
    if not found:
        return "worked share, speed to first touch and activities per win held: look at the conversations"
    return "; ".join(found)


def monthly_trend(session: Session, *, rep: Rep, on: datetime | None = None, months: int = 6) -> pl.DataFrame:
    """The rep's figure on every goal metric for each of the last ``months`` calendar months
    (to the one holding ``on``, by default the ledger's own present: an export taken years ago
    shows its last months, not empty ones), beside their team's (none for a rep without a team): month,
    metric, rep, team, and whether the month is too young to compare (``maturing``: younger than
    the usual time to close, so its conversion, wins and activities per win are still coming)."""
    on = on or latest_date(session)
    first = date(on.year, on.month, 1)
    starts = [_month_back(first, k) for k in range(months - 1, -1, -1)]
    team = session.get(Team, rep.team_id) if rep.team_id is not None else None
    rows: list[dict[str, Any]] = []
    for start in starts:
        since, until = (_midnight(day) for day in month_of(start))
        mine = period_metrics(session, by="rep", since=since, until=until).filter(pl.col("rep") == rep.name)
        theirs = (
            period_metrics(session, by="team", since=since, until=until).filter(pl.col("team") == team.name)
            if team is not None
            else pl.DataFrame()
        )
        for metric in GOAL_METRICS:
            rows.append(
                {
                    "month": f"{start:%Y-%m}",
                    "metric": metric,
                    "rep": mine[metric][0] if mine.height else None,
                    "team": theirs[metric][0] if theirs.height else None,
                }
            )
    schema = {"month": pl.String, "metric": pl.String, "rep": pl.Float64, "team": pl.Float64}
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    return with_maturity(frame, as_of=on, horizon_days=usual_time_to_close(session))


def _month_back(first: date, months: int) -> date:
    """The 1st of the month ``months`` before ``first``."""
    index = first.year * 12 + first.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)
