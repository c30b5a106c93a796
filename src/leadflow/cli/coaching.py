"""`leadflow goals ...`, `leadflow notes ...` and `leadflow report scorecard`: goals on the metrics
that drive results, progress against them, and the record of coaching."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

import polars as pl
import typer

from leadflow.cli.common import Format, console, fail, money_text, render, reported, state, when
from leadflow.cli.reports import report_app

if TYPE_CHECKING:
    from leadflow.models import CoachingNote

goals_app = typer.Typer(help="Goals per rep or team on the metrics that drive results.", no_args_is_help=True)
notes_app = typer.Typer(
    help="Coaching notes: what was discussed, the action, the follow-up.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """The goals and notes groups (the scorecard is a report)."""
    app.add_typer(goals_app, name="goals")
    app.add_typer(notes_app, name="notes")


GOAL_COLUMNS = {
    "who": pl.String, "metric": pl.String, "target": pl.Float64, "from": pl.Date, "until": pl.Date,
    "set_by": pl.String,
}  # fmt: skip


def _day(value: str | None, default: date) -> date:
    found = when(value)
    return found.date() if found else default


@goals_app.command("set")
def goals_set(
    rep: Annotated[
        str | None, typer.Argument(help="The rep (external id, email or name); or --team.")
    ] = None,
    team: Annotated[str | None, typer.Option(help="A goal for the whole team instead.")] = None,
    metric: Annotated[
        str,
        typer.Option(
            help="leads_worked, first_touch_hours, activities_per_win, opportunities, conversion, wins "
            "or revenue."
        ),
    ] = "conversion",
    target: Annotated[
        float, typer.Option(help="The target (a share for leads_worked and conversion).")
    ] = 0.0,
    since: Annotated[str | None, typer.Option(help="First day (default: the 1st of this month).")] = None,
    until: Annotated[
        str | None, typer.Option(help="The day after the last (default: next month's 1st).")
    ] = None,
) -> None:
    """Set a rep's (or a team's) target on a metric for a period.

    Example: leadflow goals set ann --metric wins --target 12 --since 2026-12-01 --until 2027-01-01
    """
    from leadflow.ledger.find import find_rep, find_team
    from leadflow.models import utcnow
    from leadflow.pipeline.coaching import month_of, set_goal

    starts = _day(since, month_of(utcnow().date())[0])
    ends = _day(until, month_of(starts)[1])
    if (rep is None) == (team is None):
        fail("name a rep or --team", 2)
    with reported(), state.session() as session:
        who = find_rep(session, ref=rep) if rep else None
        group = find_team(session, ref=team) if team else None
        set_goal(
            session,
            metric=metric,
            target=target,
            starts_on=starts,
            ends_on=ends,
            by=state.actor,
            rep=who,
            team=group,
        )
        name = who.name if who else (group.name if group else "")
    console.print(f"goal: {name} {metric} {target:g} from {starts} until {ends}", highlight=False)


@goals_app.command("list")
def goals_list(
    team: Annotated[str | None, typer.Option(help="Only this team's goals and its reps'.")] = None,
    fmt: Format = "table",
) -> None:
    """The goals in force today.

    Example: leadflow goals list --team "EMEA team"
    """
    from leadflow.ledger.find import find_team
    from leadflow.models import Rep, Team, utcnow
    from leadflow.pipeline.coaching import goals_in_force

    with reported(), state.session(write=False) as session:
        group = find_team(session, ref=team) if team else None
        goals = goals_in_force(session, on=utcnow().date(), team_id=group.id if group else None)
        reps = {r.id: r.name for r in session.query(Rep).all()}
        teams = {t.id: t.name for t in session.query(Team).all()}
        frame = pl.DataFrame(
            [
                {
                    "who": reps.get(g.rep_id or 0) or teams.get(g.team_id or 0),
                    "metric": g.metric,
                    "target": g.target,
                    "from": g.starts_on,
                    "until": g.ends_on,
                    "set_by": g.set_by,
                }
                for g in goals
            ],
            schema=GOAL_COLUMNS,
        )
    render(frame, fmt, title="goals in force")


@report_app.command("scorecard")
def report_scorecard(
    team: Annotated[str | None, typer.Option(help="Only this team's goals and its reps'.")] = None,
    rep: Annotated[str | None, typer.Option(help="Only this rep's goals.")] = None,
    fmt: Format = "table",
) -> None:
    """Each goal in force: target, actual so far (rates with their 95% interval), where the
    period is heading, and whether on track.

    Actuals count the leads created in the goal's period that the rep owns, as `report
    conversion` does over the same dates. Counts are projected to the period's end in
    proportion to the time elapsed; rates and medians are taken as they stand.
    Example: leadflow report scorecard --team "EMEA team"
    """
    from leadflow.analytics.scorecard import scorecard
    from leadflow.ledger.find import find_rep, find_team
    from leadflow.models import utcnow

    with reported(), state.session(write=False) as session:
        group = find_team(session, ref=team) if team else None
        who = find_rep(session, ref=rep) if rep else None
        frame = scorecard(session, on=utcnow(), team=group, rep=who)
    if fmt == "table":
        frame = readable_scorecard(frame)
    render(
        frame,
        fmt,
        title="scorecard",
        caption=None if frame.height else "no goals in force: `leadflow goals set`",
    )


def readable_scorecard(frame: pl.DataFrame) -> pl.DataFrame:
    """The scorecard as a manager reads it: the goal in words, shares as percentages, money with
    separators, and on track, behind or no data yet."""
    from leadflow.analytics.scorecard import METRIC_WORDS, RATES

    def shown(column: str) -> pl.Expr:
        value = pl.col(column)
        return (
            pl.when(value.is_null())
            .then(pl.lit(""))
            .when(pl.col("metric").is_in(RATES))
            .then(pl.format("{}%", (value * 100).round(1)))
            .when(pl.col("metric") == "revenue")
            .then(money_text(value))
            .otherwise(value.round(1).cast(pl.String))
        )

    return frame.select(
        "who",
        pl.col("metric").replace_strict(METRIC_WORDS, default=pl.col("metric")).alias("goal"),
        shown("target").alias("target"),
        pl.when(pl.col("low").is_not_null())
        .then(pl.format("{} ({}-{})", shown("actual"), shown("low"), shown("high")))
        .otherwise(shown("actual"))
        .alias("so far"),
        shown("projected").alias("heading for"),
        pl.when(pl.col("on_track").is_null())
        .then(pl.lit("no data yet"))
        .when(pl.col("on_track"))
        .then(pl.lit("on track"))
        .otherwise(pl.lit("behind"))
        .alias("status"),
        pl.format(
            "{} to {} ({}% gone)", "starts_on", "ends_on", (pl.col("elapsed") * 100).round(0).cast(pl.Int64)
        ).alias("period"),
    )


@report_app.command("trend")
def report_trend(
    rep: Annotated[str, typer.Argument(help="The rep (external id, email or name).")],
    months: Annotated[int, typer.Option(min=1, max=24, help="How many months, this one included.")] = 6,
    fmt: Format = "table",
) -> None:
    """A rep's monthly figures on every goal metric beside their team's: whether a gap is new or
    has always been there. Months younger than the usual time to close are marked: their wins
    are still coming.

    Example: leadflow report trend "Ann Adams" --months 6
    """
    from leadflow.analytics.scorecard import monthly_trend
    from leadflow.ledger.find import find_rep

    with reported(), state.session(write=False) as session:
        who = find_rep(session, ref=rep)
        frame = monthly_trend(session, rep=who, months=months)
        name = who.name
    if fmt == "table":
        frame = frame.with_columns(pl.col("rep", "team").round(3)).select(
            "month",
            "metric",
            "rep",
            "team",
            pl.when(pl.col("maturing")).then(pl.lit("not yet")).otherwise(pl.lit("")).alias("comparable?"),
        )
    render(frame, fmt, title=f"{name} against their team, by month")


@notes_app.command("add")
def notes_add(
    rep: Annotated[str, typer.Argument(help="The rep (external id, email or name).")],
    discussed: Annotated[str, typer.Option(help="What was discussed.")],
    action: Annotated[str | None, typer.Option(help="The action agreed.")] = None,
    follow_up: Annotated[str | None, typer.Option("--follow-up", help="When to follow up (a date).")] = None,
) -> None:
    """Record a coaching session with a rep.

    Example: leadflow notes add ann --discussed "slow first touches" --follow-up 2026-12-19
    """
    from leadflow.ledger.find import find_rep
    from leadflow.pipeline.coaching import add_note

    due = when(follow_up)
    with reported(), state.session() as session:
        who = find_rep(session, ref=rep)
        day = due.date() if due else None
        add_note(session, rep=who, discussed=discussed, action=action, follow_up_on=day, by=state.actor)
        name = who.name
    console.print(f"noted for {name}" + (f"; follow up on {due:%Y-%m-%d}" if due else ""), highlight=False)


@notes_app.command("list")
def notes_list(rep: Annotated[str, typer.Argument(help="The rep.")], fmt: Format = "table") -> None:
    """A rep's coaching notes, newest first.

    Example: leadflow notes list ann
    """
    from leadflow.ledger.find import find_rep
    from leadflow.pipeline.coaching import notes_of

    with reported(), state.session(write=False) as session:
        notes = notes_of(session, rep=find_rep(session, ref=rep))
        frame = _notes_frame([(n, None) for n in notes])
    render(frame, fmt, title=f"coaching notes: {rep}")


@notes_app.command("due")
def notes_due(
    team: Annotated[str | None, typer.Option(help="Only this team's reps.")] = None, fmt: Format = "table"
) -> None:
    """The manager's coaching queue: follow-ups due today or overdue, soonest first.

    Example: leadflow notes due --team "EMEA team"
    """
    from leadflow.ledger.find import find_team
    from leadflow.models import utcnow
    from leadflow.pipeline.coaching import follow_ups_due

    with reported(), state.session(write=False) as session:
        group = find_team(session, ref=team) if team else None
        due = follow_ups_due(session, on=utcnow().date(), team_id=group.id if group else None)
        frame = _notes_frame([(n, r.name) for n, r in due])
    render(frame, fmt, title="coaching follow-ups due")


@notes_app.command("done")
def notes_done(note: Annotated[int, typer.Argument(help="The note's id (from notes due or list).")]) -> None:
    """The follow-up happened: it leaves the queue.

    Example: leadflow notes done 12
    """
    from leadflow.errors import NotFound
    from leadflow.models import CoachingNote
    from leadflow.pipeline.coaching import close_follow_up

    with reported(), state.session() as session:
        found = session.get(CoachingNote, note)
        if found is None:
            raise NotFound(f"no coaching note {note}")
        close_follow_up(session, note=found)
    console.print(f"note {note}: followed up", highlight=False)


NOTE_COLUMNS: dict[str, pl.DataType] = {
    "id": pl.Int64(), "rep": pl.String(), "at": pl.Datetime("us"), "by": pl.String(),
    "discussed": pl.String(), "action": pl.String(), "follow_up_on": pl.Date(), "done_at": pl.Datetime("us"),
}  # fmt: skip


def _notes_frame(notes: list[tuple[CoachingNote, str | None]]) -> pl.DataFrame:
    rows = [
        {"id": n.id, "rep": who, "at": n.at, "by": n.author, "discussed": n.discussed, "action": n.action,
         "follow_up_on": n.follow_up_on, "done_at": n.done_at}
        for n, who in notes
    ]  # fmt: skip
    frame = pl.DataFrame(rows, schema=NOTE_COLUMNS)
    return frame if any(who for _, who in notes) else frame.drop("rep")
