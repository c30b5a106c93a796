"""What a team has going on the day the demo opens: one rep away this week, this month's goals
set from each rep's last quarter, and coaching sessions with the reps whose conversion slipped
most (one follow-up due today, one overdue, one next week).

Written through the pipeline's own services, from what the ledger shows, as a manager would.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadflow.analytics.scorecard import period_metrics
from leadflow.models import Rep, Team
from leadflow.pipeline.absences import set_away
from leadflow.pipeline.coaching import add_note, month_of, set_goal

QUARTER = timedelta(days=91)
COACHED = 3  # reps a manager sat down with this month
FOLLOW_UPS = (0, -2, 7)  # days from today of each session's follow-up: due, overdue, next week


def add_present(session: Session, *, now: datetime) -> list[tuple[str, str]]:
    """Mark a rep away, set this month's goals and record coaching sessions; (what, how many)."""
    reps = list(session.scalars(select(Rep).where(Rep.active.is_(True)).order_by(Rep.id)))
    teams = {team.id: team for team in session.scalars(select(Team))}
    if not reps:
        return []
    recent = _metrics(session, now - QUARTER, now)
    before = _metrics(session, now - 4 * QUARTER, now - QUARTER)
    starts_on, ends_on = month_of(now.date())
    by_name = {rep.name: rep for rep in reps}
    goals = 0
    for row in recent.iter_rows(named=True):
        rep = by_name.get(row["rep"])
        if rep is None:
            continue
        team = teams.get(rep.team_id) if rep.team_id is not None else None
        targets = {
            "leads_worked": 0.95,
            "first_touch_hours": 4.0,
            "conversion": min(round((row["conversion"] or 0.0) + 0.02, 2), 0.9),
            "wins": max(round(row["won"] / 3 * 1.1), 1),
        }
        for metric, target in targets.items():
            set_goal(
                session, metric=metric, target=target, starts_on=starts_on, ends_on=ends_on,
                by=team.manager if team and team.manager else "demo", rep=rep,
            )  # fmt: skip
            goals += 1
    slipped = (
        recent.join(before, on="rep", suffix="_before")
        .filter(pl.col("closed") >= 20, pl.col("closed_before") >= 20)
        .with_columns((pl.col("conversion") - pl.col("conversion_before")).alias("change"))
        .sort("change")
        .head(COACHED)
    )
    notes = 0
    for row, follow_up in zip(slipped.iter_rows(named=True), FOLLOW_UPS, strict=False):
        rep = by_name[row["rep"]]
        team = teams.get(rep.team_id) if rep.team_id is not None else None
        add_note(
            session,
            rep=rep,
            by=team.manager if team and team.manager else "demo",
            discussed=(
                f"Conversion over the last quarter is {row['conversion']:.0%}, down from "
                f"{row['conversion_before']:.0%} the three quarters before; went through the lost deals."
            ),
            action="First touch within the hour on A and B leads; review open opportunities every Friday.",
            follow_up_on=(now + timedelta(days=follow_up)).date(),
            at=now + timedelta(days=min(follow_up, 0) - 7),
        )
        notes += 1
    coached = {by_name[name].id for name in slipped["rep"]}
    away = next((rep for rep in reversed(reps) if rep.id not in coached), reps[-1])
    set_away(
        session,
        rep=away,
        starts_at=now - timedelta(days=2),
        ends_at=now + timedelta(days=5),
        reason="vacation",
    )
    return [("goals this month", f"{goals:,}"), ("coaching notes", str(notes)), ("away this week", away.name)]


def _metrics(session: Session, since: datetime, until: datetime) -> pl.DataFrame:
    return period_metrics(session, by="rep", since=since, until=until).filter(pl.col("rep").is_not_null())
