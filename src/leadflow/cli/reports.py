"""`leadflow report ...`: what converts, with counts and intervals, rendered for a terminal or as
CSV and JSON with plain column names."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import polars as pl
import typer

from leadflow.analytics.dimensions import DIMENSIONS
from leadflow.cli.common import Format, console, fail, money_text, render, report_filters, reported, state

if TYPE_CHECKING:
    from leadflow.analytics.query.filters import ReportFilter

report_app = typer.Typer(help="Reports: what converts, with counts and intervals.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """The report group."""
    app.add_typer(report_app, name="report")


@report_app.command("profile")
def report_profile(
    fmt: Format = "table",
    all_values: Annotated[
        bool, typer.Option("--all", help="Show every value, not only significant ones.")
    ] = False,
    write: Annotated[
        bool, typer.Option("--write", help="Write the suggested criteria into leadflow.toml's profile.")
    ] = False,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh",
            help="Count the ledger's closed leads now instead of those the latest model learned from.",
        ),
    ] = False,
) -> None:
    """What converts: each attribute value's conversion, lift over the base rate with its 95%
    interval, and whether the lift holds after correcting for many comparisons (Benjamini-Hochberg).

    Counted over the leads the latest win model learned from (kept when it was trained: instant),
    or with --fresh over the ledger's closed leads now (reads each of them: seconds on a million).

    Example: leadflow report profile --all --format csv > profile.csv
    Example: leadflow --config leadflow.toml report profile --fresh --write
    """
    from leadflow.analytics.profile import profile_report

    with reported(), state.session(write=False) as session:
        report = profile_report(session, fresh=fresh)
    if report.leads == 0:
        fail("no lead has a known outcome old enough to judge yet; nothing to report")
    table = report.table if all_values else report.table.filter(pl.col("significant"))
    if fmt == "table":
        counted = (
            f"as model {report.model_id} learned them (outcomes as of {report.as_of:%Y-%m-%d %H:%M}; "
            "--fresh counts the ledger now)"
            if report.model_id is not None
            else f"counted now (outcomes as of {report.as_of:%Y-%m-%d %H:%M})"
        )
        console.print(
            f"{report.leads:,} leads with a known outcome (older than {report.horizon_days:.0f} days), "
            f"{counted}, base rate {report.base_rate:.1%}; {report.table['significant'].sum()} of "
            f"{report.table.height} values differ from it beyond chance (false discovery rate 5%)",
            highlight=False,
        )
        table = table.select(
            "attribute", "value", "leads", "won",
            pl.format("{}%", (pl.col("conversion") * 100).round(1)).alias("conversion"),
            pl.format("{} ({}-{})", *(pl.col(c).round(2) for c in ("lift", "lift_low", "lift_high")))
            .alias("lift (95% interval)"),
            pl.col("q_value").map_elements(lambda q: f"{q:.2g}", return_dtype=pl.String).alias("q"),
        )  # fmt: skip
    render(table, fmt, title="profile")
    if write:
        target = state.config or Path("leadflow.toml")
        from leadflow.settings import write_profile

        updated, added = write_profile(target, report.suggested)
        console.print(
            f"{target}: {added} criteria added, {updated} given new points, "
            f"of {len(report.suggested)} suggested; the rest of the file is as it was",
            highlight=False,
        )


def ratio_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Counts without needless decimals and each ratio as 'xx.x% (low-high)' for a terminal."""
    names = ("leads", "issued", "from", "reached", "opportunities", "worked", "won", "lost", "closed", "open")
    counts = [c for c in names if c in frame.columns]
    whole = [c for c in counts if (frame[c].fill_null(0) % 1 == 0).all()]
    return frame.with_columns(
        *(pl.col(c).cast(pl.Int64) if c in whole else pl.col(c).round(1) for c in counts),
        pl.when(pl.col("conversion").is_null())
        .then(pl.lit("no closed leads"))
        .otherwise(
            pl.format(
                "{}% ({}-{}%)",
                *(((pl.col(c) * 100).round(1)) for c in ("conversion", "conversion_low", "conversion_high")),
            )
        )
        .alias("conversion"),
    ).drop("conversion_low", "conversion_high")


@report_app.command("conversion")
@report_filters()
def report_conversion(
    filters: ReportFilter,
    by: Annotated[
        str,
        typer.Option(help=f"Group by these, comma-separated: {', '.join(DIMENSIONS)}."),
    ] = "rep",
    fmt: Format = "table",
) -> None:
    """Conversion: leads in, worked, won, lost, open, and won / (won + lost) with its 95% Wilson
    interval, by rep, team, territory, source, lead type, product or month, or combinations;
    distributed and self-sourced leads apart; split credit counted by share.

    Example: leadflow report conversion --by rep
    Example: leadflow report conversion --by territory,month --since 2026-01-01 --format csv
    """
    dimensions = [d.strip() for d in by.split(",") if d.strip()]
    from leadflow.analytics.conversion import conversion_report

    with reported(), state.session(write=False) as session:
        table = conversion_report(session, by=dimensions, filters=filters)
    if table.is_empty():
        fail("no leads match these filters")
    render(ratio_text(table) if fmt == "table" else table, fmt, title="conversion")


@report_app.command("reps")
@report_filters()
def report_reps(
    filters: ReportFilter,
    as_of: Annotated[
        datetime | None,
        typer.Option(help="End of the recent window (default: the newest lead's creation date)."),
    ] = None,
    recent_months: Annotated[int, typer.Option(help="Months in the recent window.")] = 3,
    fmt: Format = "table",
) -> None:
    """Weak leads or weak closer: each rep's wins against what their leads' win probabilities
    promised (a model that never sees the rep), close rate and its shrunk estimate with 95%
    intervals, the mix of leads they got, whether they lag (their recent drop beyond the
    team's), and whether reps differ more than chance at all.

    Example: leadflow report reps
    Example: leadflow report reps --team "EMEA team" --format csv > reps.csv
    """
    from leadflow.analytics.reps import reps_report

    with reported(), state.session(write=False) as session:
        report = reps_report(session, filters=filters, as_of=as_of, recent_months=recent_months)
    if report.table.is_empty():
        fail("no rep has leads matching these filters")
    spread = report.spread
    if fmt != "table":
        render(report.table, fmt, title="reps")
        return
    differ = spread.p_value < 0.05
    console.print(
        (
            f"The {report.table.height} reps really differ: chance alone would give "
            f"{spread.noise_share:.0%} of the spread in their close rates."
            if differ
            else f"The {report.table.height} reps' close rates could differ by chance alone."
        ),
        highlight=False,
    )
    console.print(
        f"A rep is lagging when their close rate on leads created since {report.recent_start:%Y-%m-%d} "
        f"fell more than the rest of the company's did, against the "
        f"{(report.recent_start - report.past_start).days} days before (the same in a team's report).",
        highlight=False,
    )
    console.print(
        f"[dim]How: spread (sd) {spread.observed_sd:.1%}, binomial noise alone {spread.noise_sd:.1%}, so "
        f"{spread.noise_share:.0%} of the variance is noise; chi-square {spread.statistic:.1f} on "
        f"{spread.dof} df, p = {spread.p_value:.2g} "
        + ("(reps really differ)" if differ else "(no evidence that reps differ)")
        + "; lagging: one-sided test of the rep's change against the others', Benjamini-Hochberg "
        "across reps at 5%.[/dim]",
        highlight=False,
    )
    if not report.scored:
        console.print(
            "[yellow]No win probabilities on closed leads: run `leadflow score --train --all`.[/yellow]"
        )

    def interval(column: str) -> pl.Expr:
        return pl.format(
            "{}% ({}-{})",
            *(((pl.col(c) * 100).round(1)) for c in (column, f"{column}_low", f"{column}_high")),
        )

    table = report.table.select(
        "rep",
        (pl.col("won") + pl.col("lost")).round(1).alias("closed"),
        interval("conversion").alias("close rate"),
        interval("estimate").alias("shrunk"),
        pl.when(pl.col("expected_won").is_not_null())
        .then(
            pl.format(
                "{} vs {} ({} to {})",
                pl.col("won_scored").round(1),
                pl.col("expected_won").round(1),
                pl.col("difference_low").round(1),
                pl.col("difference_high").round(1),
            )
        )
        .otherwise(pl.lit("no scored closed leads"))
        .alias("won vs expected (diff 95%)"),
        (pl.col("lead_mix") * 100).round(1).alias("mix %"),
        pl.format(
            "{} -> {}", (pl.col("past_ratio") * 100).round(1), (pl.col("recent_ratio") * 100).round(1)
        ).alias("past -> recent %"),
        pl.when(pl.col("lagging")).then(pl.lit("LAGGING")).otherwise(pl.lit("")).alias("lag"),
        "verdict",
        pl.col("what_moved").fill_null("").alias("what moved (lagging reps)"),
    )
    render(table, fmt, title="reps")


@report_app.command("cohorts")
@report_filters()
def report_cohorts(
    filters: ReportFilter,
    as_of: Annotated[
        datetime | None,
        typer.Option(help="Open leads are censored here (default: the ledger's newest date)."),
    ] = None,
    fmt: Format = "table",
) -> None:
    """Time to close: for each monthly cohort and all leads, the share won within 1, 2, 3, 6, 9
    and 12 months of creation; open leads count as not closed yet (censored), lost ones as a
    competing outcome (Aalen-Johansen). Blank where a cohort has not been followed that long.

    Example: leadflow report cohorts
    Example: leadflow report cohorts --source "Webinar" --format csv
    """
    from leadflow.analytics.cohorts import cohorts_report

    with reported(), state.session(write=False) as session:
        report = cohorts_report(session, filters=filters, as_of=as_of)
    if report.table.is_empty():
        fail("no dated leads match these filters")
    if fmt != "table":
        render(report.table, fmt, title="cohorts")
        return
    console.print(f"All leads, as of {report.as_of:%Y-%m-%d}: {report.sentence()}.", highlight=False)
    shares = [f"won_{h}m" for h in report.horizons]
    table = report.table.select(
        "cohort",
        *(pl.col(c).round(0).cast(pl.Int64) for c in ("leads", "won", "lost", "open")),
        *(pl.format("{}%", (pl.col(c) * 100).round(1)).alias(c.removeprefix("won_")) for c in shares),
    )
    render(table, fmt, title="share won within months of creation")


@report_app.command("sources")
@report_filters()
def report_sources(
    filters: ReportFilter,
    fmt: Format = "table",
) -> None:
    """Source ROI: leads, cost per lead, per opportunity and per won deal, revenue, ROI, the
    conversion ratio with its 95% interval, and a flag on a source that stopped working (its
    recent ratio fell beyond the other sources' own change).

    Example: leadflow report sources --since 2026-01-01
    Example: leadflow report sources --format csv > sources.csv
    """
    from leadflow.analytics.sources import sources_report

    with reported(), state.session(write=False) as session:
        report = sources_report(session, filters=filters)
    if report.table.is_empty():
        fail("no leads match these filters")
    if fmt != "table":
        render(report.table, fmt, title="sources")
        return

    def roi_words(value: float | None) -> str:
        """ROI as people say it: +45%, or 376x the cost when it is that large."""
        if value is None:
            return "no cost"
        return f"{value + 1:,.0f}x the cost" if value >= 9 else f"{value:+.0%}"

    costs = ("cost", "cost_per_lead_actual", "cost_per_opportunity", "cost_per_won", "revenue")
    trend = (
        pl.when(pl.col("stopped_working"))
        .then(pl.lit("STOPPED WORKING"))
        .when(pl.col("stopped_working").is_null())
        .then(pl.lit("too few to tell"))
        .otherwise(pl.lit("holding"))
    )
    roi = pl.col("roi").map_elements(roi_words, return_dtype=pl.String, skip_nulls=False)
    table = ratio_text(report.table).select(
        "source", "leads", "opportunities", "won", "conversion",
        *(money_text(pl.col(c)).alias(c) for c in costs),
        roi.alias("roi"),
        trend.alias("trend"),
    )  # fmt: skip
    table = table.rename(
        {"cost_per_lead_actual": "per lead", "cost_per_opportunity": "per opp.", "cost_per_won": "per won"}
    )
    console.print("Cost: cost per lead x leads, plus monthly spend for each month the source brought leads.")
    render(table, fmt, title="sources")


@report_app.command("funnel")
@report_filters()
def report_funnel(
    filters: ReportFilter,
    fmt: Format = "table",
    table: Annotated[
        str,
        typer.Option(
            help="With --format csv, which table: stages, speed, capacity, or summary (speed to lead, "
            "never worked, activities per won deal). JSON holds them all."
        ),
    ] = "stages",
) -> None:
    """Funnel KPIs: inquiry to lead to opportunity to won with 95% intervals, speed to lead and
    conversion by speed, leads per rep against capacity, activities and calls per won deal, and
    the leads never worked with what they cost.

    Example: leadflow report funnel --since 2026-01-01
    Example: leadflow report funnel --format json > funnel.json
    """
    from leadflow.analytics.funnel import funnel_report

    with reported(), state.session(write=False) as session:
        report = funnel_report(session, filters=filters)
    if fmt == "json":
        sys.stdout.write(json.dumps(report.as_dict(), default=str, indent=1) + "\n")
        return
    if fmt == "csv":
        tables = {
            "stages": report.stages,
            "speed": report.speed,
            "capacity": report.capacity,
            "summary": pl.DataFrame([{k: v for k, v in report.as_dict().items() if not isinstance(v, list)
                                      and not isinstance(v, dict)} | {f"speed_{k}": v for k, v in
                                      report.speed_hours.items()}]),
        }  # fmt: skip
        if table not in tables:
            fail(f"unknown table {table!r}; tables: {', '.join(tables)}", 2)
        render(tables[table], fmt)
        return
    render(ratio_text(report.stages), fmt, title="funnel")
    hours = report.speed_hours
    if hours["p50"] is None:
        console.print("Speed to lead: no first touch recorded after an assignment.")
    else:
        console.print(
            f"Speed to lead: half of the leads touched within {hours['p50']:.0f} h, 75% within "
            f"{hours['p75']:.0f} h, 90% within {hours['p90']:.0f} h of assignment.",
            highlight=False,
        )
        render(ratio_text(report.speed), fmt, title="conversion by speed to lead")
    if report.assigned:
        cost = f", which cost {report.never_worked_cost:,.0f}" if report.never_worked_cost is not None else ""
        console.print(
            f"Never worked: {report.never_worked:,.0f} of {report.assigned:,.0f} leads assigned more than "
            f"7 days ago ({report.never_worked / report.assigned:.1%}){cost}.",
            highlight=False,
        )
    if report.activities_per_won is None:
        console.print("Activities per won deal: no activities recorded on won leads.")
    else:
        console.print(
            f"Activities per won deal: {report.activities_per_won:.1f} ({report.calls_per_won:.1f} calls).",
            highlight=False,
        )
    capacity = report.capacity.select(
        "rep",
        pl.col("capacity").cast(pl.Int64),
        pl.col("leads_per_month").round(1),
        pl.format("{}%", (pl.col("capacity_use") * 100).round(0)).alias("capacity used"),
    )
    render(capacity, fmt, title="leads per rep per month against capacity")


@report_app.command("partners")
@report_filters("since", "until")
def report_partners(
    filters: ReportFilter,
    fmt: Format = "table",
) -> None:
    """The partner channel beside the direct reps: leads issued, reported worked, won and
    revenue, the cost of the leads, conversion (won / issued) with its 95% interval, and ROI.

    Example: leadflow report partners --since 2026-01-01
    """
    from leadflow.analytics.partners import partners_report

    with reported(), state.session(write=False) as session:
        table = partners_report(session, filters=filters)
    if table.is_empty():
        fail("no leads issued to partners or reps in this period")
    if fmt == "table":
        table = ratio_text(table).with_columns(
            pl.col("cost").round(0),
            pl.col("revenue").round(0),
            pl.format("{}%", (pl.col("roi") * 100).round(0)).alias("roi"),
        )
    render(table, fmt, title="partners and direct reps")
