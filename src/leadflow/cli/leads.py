"""Leads and reps by hand: list, show, log an activity, move a stage, assign, export."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.table import Table

from leadflow.cli.common import Format, console, fail, render, reported, state, when
from leadflow.cli.imports import import_command
from leadflow.ledger.export import csv_text

leads_app = typer.Typer(help="Import, list and show leads.", no_args_is_help=True)
reps_app = typer.Typer(help="Import and list reps; mark them away and back.", no_args_is_help=True)
activity_app = typer.Typer(help="Log one activity on a lead.", no_args_is_help=True)
stage_app = typer.Typer(help="Move a lead to another stage.", no_args_is_help=True)
leads_app.command("import")(import_command("leads"))
reps_app.command("import")(import_command("reps"))

LeadRef = Annotated[str, typer.Argument(help="Lead id or external id.")]


def register(app: typer.Typer) -> None:
    """The leads, reps, activity and stage groups, and assign and export."""
    app.add_typer(leads_app, name="leads")
    app.add_typer(reps_app, name="reps")
    app.add_typer(activity_app, name="activity")
    app.add_typer(stage_app, name="stage")
    app.command()(assign)
    app.command()(export)


@leads_app.command("list")
def leads_list(
    stage: Annotated[str | None, typer.Option(help="Only leads in this stage.")] = None,
    owner: Annotated[str | None, typer.Option(help="Only this rep's leads (id, name or email).")] = None,
    source: Annotated[str | None, typer.Option(help="Only leads from this source.")] = None,
    unassigned: Annotated[bool, typer.Option(help="Only leads without an owner.")] = False,
    search: Annotated[
        str | None, typer.Option(help="Company, email, last name or external id contains.")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many (table default 50).")] = None,
    fmt: Format = "table",
) -> None:
    """List leads; csv and json write every match with the canonical columns.

    Example: leadflow leads list --stage won --format csv > won.csv
    """
    from leadflow.ledger.find import find_rep
    from leadflow.pipeline.queries import LeadFilter, list_leads

    with state.session(write=False) as session:
        owner_id = None
        if owner is not None:
            with reported():
                owner_id = find_rep(session, ref=owner).id
        if limit is None and fmt == "table":
            limit = 50
        frame = list_leads(
            session,
            filters=LeadFilter(
                stage=stage,
                owner_id=owner_id,
                source=source,
                unassigned=unassigned,
                search=search,
                limit=limit,
            ),
        )
    if fmt == "table":
        frame = frame.select(
            "id",
            "external_id",
            "company",
            "stage",
            "owner",
            "source",
            "created_at",
            "amount",
            "grade",
        )
    render(frame, fmt, title="leads")


@leads_app.command("show")
def leads_show(lead: LeadRef, fmt: Format = "table") -> None:
    """Show one lead and its story: assignments (and why), activities, stages, field history.

    Example: leadflow leads show 1C1I7A6R
    """
    from leadflow.ledger.find import find_lead
    from leadflow.pipeline.queries import lead_story
    from leadflow.scoring.service import explain_lead

    settings = state.settings()
    with state.session(write=False) as session, reported():
        lead_id = find_lead(session, ref=lead).id
        story = lead_story(session, lead_id=lead_id)
        fit = explain_lead(session, lead_id=lead_id, settings=settings)
    if fmt == "json":
        sys.stdout.write(json.dumps({**story.__dict__, "fit": fit.__dict__}, default=str, indent=1) + "\n")
        return
    fields = Table(title=f"lead {story.lead['id']}", show_header=False)
    for key, value in story.lead.items():
        if value is not None:
            fields.add_row(key, str(value))
    console.print(fields)
    chance = (
        f", win probability {fit.win_probability:.1%} (model {fit.score_model_id})"
        if fit.win_probability is not None
        else ", no win probability yet (leadflow score --train)"
    )
    console.print(f"[bold]fit {fit.fit_score:g} of 100, grade {fit.grade}{chance}[/bold]")
    console.print("  for:     " + ("; ".join(fit.for_) or "nothing"), highlight=False)
    console.print("  against: " + ("; ".join(fit.against) or "nothing"), highlight=False)
    for title, rows in (
        ("assignments", story.assignments),
        ("activities", story.activities),
        ("stage changes", story.stages),
        ("field history", story.changes),
    ):
        if rows:
            # each decision's inputs (eligible, excluded and why, estimates) are in --format json
            rows = [{k: v for k, v in r.items() if k != "inputs"} for r in rows]
            render(
                pl.DataFrame(rows, infer_schema_length=None).with_columns(pl.all().cast(pl.String)),
                "table",
                title=title,
            )
        else:
            console.print(f"[dim]no {title}[/dim]")


@leads_app.command("requeue")
def leads_requeue() -> None:
    """Return nurtured leads whose follow-up date has come to the queue of leads to route.

    Example: leadflow leads requeue
    """
    from leadflow.pipeline.outcomes import requeue_due_nurture

    with state.session() as session:
        ids = requeue_due_nurture(session)
    console.print(f"{len(ids):,} nurtured leads are due and back in the queue")


@reps_app.command("list")
def reps_list(fmt: Format = "table") -> None:
    """List reps with team, manager, territories, leads owned, their capacity this period (used of
    capacity, and left), daily cap and when they are back if away.

    Example: leadflow reps list --format csv
    """
    from leadflow.models import utcnow
    from leadflow.pipeline.queries import list_reps
    from leadflow.routing.roster import capacity_now

    settings = state.settings()
    with state.session(write=False) as session:
        frame = list_reps(session)
        capacity, counts = capacity_now(session, settings=settings, now=utcnow())
    frame = frame.join(capacity, on="id", how="left", maintain_order="left")
    render(frame, fmt, title="reps", caption=counts)


@reps_app.command("set")
def reps_set(
    rep: Annotated[str, typer.Argument(help="The rep's external id, email or name.")],
    capacity: Annotated[int | None, typer.Option(help="Leads a month the rep can work.")] = None,
    active: Annotated[
        bool | None, typer.Option("--active/--inactive", help="Whether the rep takes new leads.")
    ] = None,
) -> None:
    """Change a rep's capacity or take them off (or back on) routing; kept in the audit log.

    Example: leadflow reps set ann --capacity 180
    Example: leadflow reps set ann --inactive
    """
    from leadflow.ledger.find import find_rep
    from leadflow.pipeline.reps import update_rep

    if capacity is None and active is None:
        fail("say what to change: --capacity N, --active or --inactive", 2)
    with reported(), state.session() as session:
        who = find_rep(session, ref=rep)
        changed = update_rep(session, rep=who, by=state.actor, capacity=capacity, active=active)
        name = who.name
    if not changed:
        console.print(f"{name}: nothing to change", highlight=False)
    for field, (before, after) in changed.items():
        console.print(f"{name}: {field} {before} -> {after}", highlight=False)


@reps_app.command("away")
def reps_away(
    rep: Annotated[str, typer.Argument(help="The rep's external id, email or name.")],
    start: Annotated[str | None, typer.Option("--from", help="From when (default: now).")] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Back at this date or time (a date: at midnight).")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why, for the team (holiday, training, ...).")] = None,
) -> None:
    """Mark a rep away: routing gives them no leads from --from until --until.

    Example: leadflow reps away ann --from 2026-12-21 --until 2027-01-04 --reason holiday
    """
    from leadflow.ledger.find import find_rep
    from leadflow.models import utcnow
    from leadflow.pipeline.absences import set_away

    ends = when(until)
    if ends is None:
        fail("--until is required: when the rep is back", 2)
    starts = when(start) or utcnow()
    with reported(), state.session() as session:
        who = find_rep(session, ref=rep)
        set_away(session, rep=who, starts_at=starts, ends_at=ends, reason=reason)
        name = who.name
    console.print(f"{name} is away from {starts:%Y-%m-%d %H:%M} until {ends:%Y-%m-%d %H:%M}", highlight=False)


@reps_app.command("back")
def reps_back(rep: Annotated[str, typer.Argument(help="The rep's external id, email or name.")]) -> None:
    """A rep is back early: their current absence ends now (planned ones stay).

    Example: leadflow reps back ann
    """
    from leadflow.ledger.find import find_rep
    from leadflow.pipeline.absences import set_back

    with reported(), state.session() as session:
        who = find_rep(session, ref=rep)
        ended = set_back(session, rep=who)
        name = who.name
    console.print(f"{name} is back" if ended else f"{name} was not away", highlight=False)


@activity_app.command("log")
def activity_log(
    lead: LeadRef,
    kind: Annotated[str, typer.Option(help="call, email, meeting or note.")] = "call",
    outcome: Annotated[
        str | None, typer.Option(help="connected, no answer, voicemail, meeting set, ...")
    ] = None,
    rep: Annotated[str | None, typer.Option(help="Who made the contact (default: the lead's owner).")] = None,
    note: Annotated[str | None, typer.Option(help="Free text.")] = None,
    at: Annotated[str | None, typer.Option(help="When (ISO date/time, default now).")] = None,
) -> None:
    """Log a contact with a lead; the lead's first touch is kept current.

    Example: leadflow activity log 1C1I7A6R --kind call --outcome connected --rep "Moses Frase"
    """
    from leadflow.ledger.find import find_lead, find_rep
    from leadflow.pipeline.activities import log_activity
    from leadflow.scoring.service import score_leads

    with state.session() as session, reported():
        target = find_lead(session, ref=lead)
        who = find_rep(session, ref=rep) if rep else None
        if who is None and target.owner_id is not None:
            who = find_rep(session, ref=target.owner_id)
        activity = log_activity(
            session, lead=target, rep=who, kind=kind, outcome=outcome, note=note, at=when(at)
        )
        score_leads(session, settings=state.settings(), lead_ids=[target.id])

    console.print(f"logged {activity.kind} on lead {target.id} at {activity.at:%Y-%m-%d %H:%M}")


@stage_app.command("set")
def stage_set(
    lead: LeadRef,
    stage: Annotated[
        str,
        typer.Argument(help="inquiry, lead, qualified, opportunity, won, lost, nurture, disqualified."),
    ],
    amount: Annotated[float | None, typer.Option(help="Won: the deal's amount.")] = None,
    product: Annotated[str | None, typer.Option(help="Won: what was bought.")] = None,
    reason: Annotated[str | None, typer.Option(help="Lost: why; otherwise a note.")] = None,
    follow_up: Annotated[str | None, typer.Option(help="Nurture: when to follow up (ISO date).")] = None,
) -> None:
    """Move a lead to another stage along the allowed transitions.

    Examples: leadflow stage set 42 qualified
              leadflow stage set 42 won --amount 4821 --product "GTX Pro"
              leadflow stage set 42 nurture --follow-up 2027-02-01
    """
    from leadflow.ledger.find import find_lead, find_product
    from leadflow.pipeline.outcomes import set_stage

    with state.session() as session, reported():
        target = find_lead(session, ref=lead)
        item = find_product(session, ref=product) if product else None
        set_stage(
            session, lead=target, stage=stage, by=state.actor, amount=amount, product=item, reason=reason,
            follow_up_at=when(follow_up),
        )  # fmt: skip
    console.print(f"lead {target.id} is now {target.stage}")


def assign(
    lead: LeadRef,
    rep: Annotated[str | None, typer.Argument(help="Rep external id, email or name.")] = None,
    reason: Annotated[str, typer.Option(help="Why (kept in the lead's history).")] = "",
    partner: Annotated[
        str | None, typer.Option(help="Issue the lead to this distributor instead of a rep.")
    ] = None,
) -> None:
    """Assign or reassign a lead to a rep by hand, or issue it to a partner, with the reason
    kept in its history.

    Example: leadflow assign 42 "Moses Frase" --reason "knows the account"
    Example: leadflow assign 43 --partner "Acme Distribution" --reason "outside our territories"
    """
    from leadflow.ledger.find import find_lead, find_rep
    from leadflow.pipeline.assignments import assign_lead
    from leadflow.pipeline.partners import issue_to_partner

    if (rep is None) == (partner is None):
        fail("name either a rep or --partner", 2)
    with state.session() as session, reported():
        target = find_lead(session, ref=lead)
        if partner is not None:
            issue_to_partner(session, lead=target, partner=partner, by=state.actor, reason=reason)
            name = partner
        else:
            who = find_rep(session, ref=str(rep))
            assign_lead(
                session, lead=target, rep=who, by=state.actor, reason=reason, settings=state.settings()
            )
            name = who.name
    console.print(f"lead {target.id} now belongs to {name}")


def export(
    out: Annotated[Path, typer.Argument(help="CSV file to write.")],
    kind: Annotated[str, typer.Option(help="leads or reps.")] = "leads",
) -> None:
    """Export every lead (or rep) to CSV: the canonical columns, then each extra attribute.

    The file imports back into leadflow (or elsewhere) as it is.

    Example: leadflow export leads.csv
    """
    from leadflow.pipeline.queries import LeadFilter, list_leads, list_reps

    with state.session(write=False) as session:
        if kind == "leads":
            frame = list_leads(session, filters=LeadFilter(), with_extras=True)
        elif kind == "reps":
            frame = list_reps(session)
        else:
            fail("--kind must be leads or reps")
    out.write_text(csv_text(frame), encoding="utf-8")
    console.print(f"wrote {frame.height:,} {kind} to {out}")
