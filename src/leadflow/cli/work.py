"""Getting leads worked: route the queue, see what could not be placed, sweep first-touch deadlines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, cast, get_args

import polars as pl
import typer

from leadflow.cli.common import Format, console, fail, render, reported, state
from leadflow.ledger.export import csv_text
from leadflow.settings import PolicyName

sla_app = typer.Typer(
    help="First-touch deadlines: escalate and reassign untouched leads.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """The route and queue commands and the sla group."""
    app.command()(route)
    app.command()(queue)
    app.add_typer(sla_app, name="sla")


def route(
    policy: Annotated[
        str | None,
        typer.Option(
            help="Override every team's policy: round_robin, weighted, load_balance, merit, optimal."
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan; write nothing.")] = False,
    export_to: Annotated[
        Path | None,
        typer.Option("--export", help="Write the decisions as CSV (lead, rep, policy, p_win, reason)."),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Route at most this many leads.")] = None,
    seed: Annotated[int, typer.Option(help="Seed for the random tie-breaks, kept with each decision.")] = 0,
) -> None:
    """Route the queue of unowned leads (reserve first) by each team's policy, within capacity.

    Every assignment records the policy, the eligible and excluded reps and why, and the
    estimates used: `leadflow leads show LEAD` answers "why did this rep get this lead?".
    Example: leadflow route --dry-run --export plan.csv
    """
    from leadflow.db import session_scope, write_cache
    from leadflow.routing.engine import route_leads
    from leadflow.routing.roster import pool_remark

    settings = state.settings()
    if policy is not None and policy not in get_args(PolicyName):
        fail(f"unknown policy {policy!r}; policies: {', '.join(get_args(PolicyName))}", 2)
    engine = state.engine()
    with write_cache(engine), session_scope(engine, write=True) as session, reported():
        plan = route_leads(
            session,
            settings=settings,
            policy=cast(PolicyName | None, policy),
            limit=limit,
            dry_run=dry_run,
            seed=seed,
            by=state.actor,
        )
        remark = pool_remark(session, settings=settings)
    if remark:
        console.print(remark, highlight=False)
    decisions = plan.table.select(
        pl.coalesce("lead_external_id", pl.col("lead_id").cast(pl.String)).alias("lead_external_id"),
        "rep_external_id",
        "policy",
        "win_probability",
        "reason",
        "queue",
    )
    if export_to is not None:
        export_to.write_text(csv_text(decisions.drop("queue")), encoding="utf-8")
    assigned = decisions.filter(pl.col("queue").is_null())
    verb = "would assign" if dry_run else "assigned"
    console.print(
        f"{verb} {assigned.height:,} leads; {plan.count('reserve'):,} to the reserve (reps at capacity), "
        f"{plan.count('unassigned'):,} unassigned (nobody eligible)"
        + (f"; wrote {export_to}" if export_to else ""),
        highlight=False,
    )
    if not assigned.is_empty():
        per_rep = (
            assigned.group_by("rep_external_id").agg(pl.len().alias("leads")).sort("leads", descending=True)
        )
        render(per_rep, "table", title="leads per rep")


def queue(fmt: Format = "table") -> None:
    """Leads routing could not place: the reserve (reps at capacity) and the unassigned, with why;
    and unowned open leads of stages routing leaves alone (routing.routable_stages).

    Example: leadflow queue --format csv
    """
    from leadflow.routing.queue import routing_queue
    from leadflow.routing.roster import pool_remark

    settings = state.settings()
    with state.session(write=False) as session:
        frame = routing_queue(session, routable_stages=settings.routing.routable_stages)
        remark = pool_remark(session, settings=settings)
    render(frame, fmt, title="routing queue", caption=remark)


@sla_app.command("sweep")
def sla_sweep_command() -> None:
    """Escalate leads past their first-touch deadline, then pass them to the next eligible rep.

    Deadlines are per grade in working hours ([sla] in leadflow.toml); a rep who missed a lead
    never gets it back, and the miss stays on their record. Run it every few minutes.
    Example: leadflow sla sweep
    """
    from leadflow.routing.sla import sla_sweep

    settings = state.settings()
    with state.session() as session, reported():
        result = sla_sweep(session, settings=settings, by=state.actor)
    console.print(
        f"escalated {len(result.escalated):,}, reassigned {len(result.reassigned):,} "
        f"({sum(1 for r in result.reassigned.values() if r is None):,} of them to the queue), "
        f"capped {len(result.capped):,}",
        highlight=False,
    )
