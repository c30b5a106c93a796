"""The synthetic company: `leadflow demo` writes one, `leadflow simulate` tries routing policies on
one (or on a company fitted to this ledger, or backward on its history)."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated, get_args

import polars as pl
import typer

from leadflow.cli.common import Format, console, fail, render, reported, state
from leadflow.settings import PolicyName

POLICIES: tuple[str, ...] = get_args(PolicyName)


def register(app: typer.Typer) -> None:
    """The demo and simulate commands."""
    app.command()(demo)
    app.command()(simulate)


def demo(
    leads: Annotated[int, typer.Option(help="How many leads in the year.")] = 50_000,
    reps: Annotated[int, typer.Option(help="How many reps.")] = 24,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same company.")] = 7,
    reset: Annotated[bool, typer.Option(help="Empty the database first.")] = False,
    as_of: Annotated[
        datetime | None,
        typer.Option(help="When the company's year ends (default: now), e.g. 2026-11-04T10:15."),
    ] = None,
) -> None:
    """Generate a synthetic company with a year of leads, activities and outcomes, as it stands
    today: a recent queue, one rep over capacity, a partner, split credit, a rep away, this
    month's goals and a few coaching notes.

    Reps differ in hidden skill and capacity, sources in quality and cost, and a late first touch
    really converts worse, so every report has something true to find.
    Example: leadflow --db sqlite:///demo.db demo --leads 50000 --seed 7 --reset
    """
    from leadflow.db import session_scope
    from leadflow.migrations.admin import drop_all, upgrade
    from leadflow.simulate.channels import DEMO_PARTNER_SHARE, DEMO_SPLIT_SHARE
    from leadflow.simulate.company import CompanySpec, end_of
    from leadflow.simulate.demo import add_demo_logins, write_demo
    from leadflow.simulate.present import add_present

    engine = state.engine(schema=False)
    if reset:
        drop_all(engine)
    upgrade(engine)
    spec = CompanySpec(
        n_leads=leads,
        n_reps=reps,
        seed=seed,
        partner_share=DEMO_PARTNER_SHARE,
        split_credit_share=DEMO_SPLIT_SHARE,
        fit_capacity=True,
        **({"end": as_of} if as_of else {}),  # type: ignore[arg-type]
    )
    with console.status("generating the company..."), session_scope(engine) as session:
        summary = write_demo(session, spec=spec, settings=state.settings())
        present = add_present(session, now=end_of(spec))
    summary = pl.concat([summary, pl.DataFrame(present, schema=summary.schema, orient="row")])
    render(summary, "table", title=f"demo company (seed {seed})")
    with session_scope(engine) as session:
        logins = add_demo_logins(session)
    console.print("Demo logins (passwords and tokens are made now and shown only here):", highlight=False)
    for role, email, password, token in logins:  # plain lines: a terminal must not wrap a token
        sys.stdout.write(f"  {role:<8} {email:<28} password {password}  API token {token}\n")


def simulate(
    policy: Annotated[
        list[str] | None,
        typer.Option(help=f"A policy to compare (repeat; the first is the baseline): {', '.join(POLICIES)}."),
    ] = None,
    history: Annotated[
        bool, typer.Option("--history", help="Backtest on this ledger's own closed leads instead.")
    ] = False,
    fitted: Annotated[
        bool,
        typer.Option(
            "--fitted", help="Forward on a company fitted to this ledger's history (its last month)."
        ),
    ] = False,
    since: Annotated[datetime | None, typer.Option(help="--history: leads created from this date.")] = None,
    until: Annotated[datetime | None, typer.Option(help="--history: leads created before this date.")] = None,
    leads: Annotated[int, typer.Option(help="Leads in the synthetic company's year.")] = 50_000,
    reps: Annotated[int, typer.Option(help="Reps in the synthetic company.")] = 24,
    seed: Annotated[int, typer.Option(help="Seed of the company and of the draws.")] = 7,
    sla_hours: Annotated[
        float, typer.Option(help="First-touch deadline in hours, for the miss share.")
    ] = 4.0,
    replications: Annotated[int, typer.Option(help="Draws of the truth per policy (the intervals).")] = 200,
    specialism: Annotated[
        float,
        typer.Option(
            help="Reps of the synthetic company differ by industry and source (hidden log-odds, "
            "this standard deviation); 0.5: the specialist company."
        ),
    ] = 0.0,
    fmt: Format = "table",
) -> None:
    """Try routing policies before one goes live.

    Forward (default), on a synthetic company whose truth is known (the one `leadflow demo`
    builds with the same seed): each policy routes the same last month of leads within capacity,
    using only what leadflow could know; the truth then plays each out many times. Shows expected
    wins and revenue with 95% intervals, the gain over the first policy (paired draws), leads per
    rep (Gini), leads over capacity and SLA misses.

    Forward on this ledger (--fitted): the same, on a company fitted to its history: its last
    month's distributed leads with their win probabilities, and each rep's effect on them,
    first-touch speed and capacity estimated from the leads before (simulate/fitted.py). The
    intervals cover the draws, not the estimates' own error; and since `optimal` routes on those
    same estimates, its gain here is what the history implies at best.

    Backward (--history), on this ledger: what each policy would have won on the leads created
    in [--since, --until) that have closed, estimated from their win probabilities and the reps'
    close rates before the period (a model-based, "direct method" estimate), beside the routing
    that actually happened and its actual wins.

    The last row, the oracle, routes on the truth no policy has: each policy's share of the
    oracle's gain over round-robin (with its 95% interval) says how much of what routing could
    win it wins.

    Example: leadflow simulate --policy round_robin --policy optimal
    Example: leadflow simulate --specialism 0.5 --policy round_robin --policy optimal
    Example: leadflow --db sqlite:///crm.db simulate --fitted
    Example: leadflow --db sqlite:///crm.db simulate --history --since 2017-07-01 --until 2018-01-01
    """
    from leadflow.simulate.backward import BACKTEST_POLICIES, backtest_policies
    from leadflow.simulate.company import CompanySpec, generate_company
    from leadflow.simulate.fitted import fit_company
    from leadflow.simulate.forward import simulate_policies

    if history and fitted:
        fail("choose one: --history (backward) or --fitted (forward on this ledger)", 2)
    if history:
        names = tuple(policy or BACKTEST_POLICIES)
        if since is None or until is None:
            fail("--history needs --since and --until", 2)
            return
        unknown = [n for n in names if n not in BACKTEST_POLICIES]
        if unknown:
            fail(f"unknown policy {', '.join(unknown)}; choose from {', '.join(BACKTEST_POLICIES)}", 2)
        with state.session(write=False) as session, reported():
            table = backtest_policies(
                session, since=since, until=until, policies=names, draws=replications, seed=seed
            )
        if fmt == "table":
            console.print(
                "Model-based (direct method) estimate on the closed leads of the period; compare the "
                "'actual' row's estimate with its actual wins to see how far to trust the model.",
                highlight=False,
            )
            open_share = table["still_open"][0] / (table["still_open"][0] + table["leads"][0])
            if open_share > 0.1:
                console.print(
                    f"[yellow]{open_share:.0%} of the period's leads are still open and left out; the "
                    "closed ones lean to quick outcomes. Choose an older period.[/yellow]"
                )
            table = table.with_columns(pl.col(pl.Float64).round(1))
        render(table, fmt, title="policies on history")
        return
    names = tuple(policy or POLICIES)
    unknown = [n for n in names if n not in POLICIES]
    if unknown:
        fail(f"unknown policy {', '.join(unknown)}; choose from {', '.join(POLICIES)}", 2)
    with console.status("simulating..."):
        if fitted:
            with state.session(write=False) as session, reported():
                company = fit_company(session)
        else:
            company = generate_company(
                CompanySpec(n_leads=leads, n_reps=reps, seed=seed, specialism=specialism)
            )
        table = simulate_policies(
            company, policies=names, sla_hours=sla_hours, replications=replications, seed=seed
        )
    if fmt != "table":
        render(table, fmt, title="simulation")
        return
    first = names[0]
    whose = (
        "this ledger's last month (a company fitted to its history)" if fitted else "the company's last month"
    )
    console.print(
        f"{table['leads'][0]:,} leads of {whose}, {replications} draws of the outcomes each.",
        highlight=False,
    )
    if fitted:
        console.print(
            "The reps' effects, speed and capacity are estimated from the history; `optimal` routes on "
            "those same estimates, so its gain here is the best the history supports.",
            highlight=False,
        )
    render(
        table.select(
            "policy",
            pl.format(
                "{} ({}-{})", *(pl.col(c).round(1) for c in ("expected_wins", "wins_low", "wins_high"))
            ).alias("wins (95%)"),
            pl.format(
                "{} ({} to {})", *(pl.col(c).round(1) for c in ("gain_vs_first", "gain_low", "gain_high"))
            ).alias(f"gain over {first}"),
            pl.format("{}", pl.col("expected_revenue").round(0).cast(pl.Int64)).alias("revenue"),
            pl.col("gini_leads_per_rep").round(2).alias("gini"),
            pl.format(
                "{} ({}-{})",
                *(pl.col(c).round(2) for c in ("oracle_share", "oracle_share_low", "oracle_share_high")),
            ).alias("share of the oracle's gain (95%)"),
            pl.col("over_capacity").alias("to reserve"),
            pl.format("{}%", (pl.col("sla_miss_share") * 100).round(1)).alias("SLA missed"),
        ),
        fmt,
        title="routing policies on the same leads",
    )
