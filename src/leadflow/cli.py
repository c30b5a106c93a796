"""The leadflow command line: thin commands that parse, call one service, and render."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, cast, get_args

import polars as pl
import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import Engine, make_url, select

from leadflow.access.service import add_user, find_user, issue_token, revoke_token
from leadflow.analytics.ledger import DIMENSIONS, ReportFilter
from leadflow.analytics.service import (
    cohorts_report,
    conversion_report,
    funnel_report,
    partners_report,
    profile_report,
    reps_report,
    sources_report,
)
from leadflow.app import create_app
from leadflow.db import make_engine, session_scope, write_cache
from leadflow.errors import LeadflowError, NotFound
from leadflow.intake.columns import Kind, load_preset, single_file_mapping
from leadflow.intake.rejects import write_report
from leadflow.intake.service import ImportSummary, bulk_mode, import_batch, open_import, preset_files
from leadflow.logs import logging_config
from leadflow.lookup import find_lead, find_product, find_rep
from leadflow.models import Team, utcnow
from leadflow.notify.deliver import deliver_due, delivery_log
from leadflow.pipeline.activities import log_activity
from leadflow.pipeline.assignments import assign_lead
from leadflow.pipeline.outcomes import requeue_due_nurture, set_stage
from leadflow.pipeline.partners import issue_to_partner, record_partner_report
from leadflow.pipeline.queries import LeadFilter, lead_story, list_leads, list_reps
from leadflow.routing.engine import route_leads, routing_queue
from leadflow.routing.sla import sla_sweep
from leadflow.schema_admin import current_revision, drop_all, head_revision, upgrade
from leadflow.scoring.service import (
    NotEnoughHistory,
    TrainResult,
    explain_lead,
    grade_counts,
    score_leads,
    train_model,
)
from leadflow.settings import ConfigError, PolicyName, Settings, database_url, load_settings, write_profile
from leadflow.simulate.backward import BACKTEST_POLICIES, backtest_policies
from leadflow.simulate.company import CompanySpec, add_demo_logins, generate_company, write_demo
from leadflow.simulate.fitted import fit_company
from leadflow.simulate.forward import POLICIES, simulate_policies

console = Console()
errors = Console(stderr=True, soft_wrap=True)

app = typer.Typer(
    help="leadflow: capture, score, route, work and measure B2B sales leads.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
leads_app = typer.Typer(help="Import, list and show leads.", no_args_is_help=True)
reps_app = typer.Typer(help="Import and list reps.", no_args_is_help=True)
sources_app = typer.Typer(help="Import lead sources and their cost.", no_args_is_help=True)
activities_app = typer.Typer(help="Import activities (calls, emails, meetings).", no_args_is_help=True)
companies_app = typer.Typer(help="Import companies (accounts).", no_args_is_help=True)
products_app = typer.Typer(help="Import products and prices.", no_args_is_help=True)
activity_app = typer.Typer(help="Log one activity on a lead.", no_args_is_help=True)
stage_app = typer.Typer(help="Move a lead to another stage.", no_args_is_help=True)
sla_app = typer.Typer(
    help="First-touch deadlines: escalate and reassign untouched leads.", no_args_is_help=True
)
report_app = typer.Typer(help="Reports: what converts, with counts and intervals.", no_args_is_help=True)
partners_app = typer.Typer(help="The partner channel: distributors' aggregate results.", no_args_is_help=True)
users_app = typer.Typer(help="Users, their roles and API tokens.", no_args_is_help=True)
notify_app = typer.Typer(
    help="Notifications on assignment and escalation: send what is due, see the delivery log.",
    no_args_is_help=True,
)
for name, sub in (
    ("leads", leads_app),
    ("reps", reps_app),
    ("sources", sources_app),
    ("activities", activities_app),
    ("companies", companies_app),
    ("products", products_app),
    ("activity", activity_app),
    ("stage", stage_app),
    ("report", report_app),
    ("sla", sla_app),
    ("partners", partners_app),
    ("users", users_app),
    ("notify", notify_app),
):
    app.add_typer(sub, name=name)

FORMAT_HELP = "table, csv or json"


class State:
    """What the global options chose."""

    db_url: str = ""
    config: Path | None = None
    actor: str = "cli"

    def engine(self, *, schema: bool = True) -> Engine:
        """The chosen database; first (unless ``schema`` is False: the commands that create or
        upgrade it) a check that it has this leadflow's schema, so that a database not yet made
        with `leadflow init` gets a message saying so, not a traceback, and no empty file."""
        url = make_url(self.db_url)
        shown = url.render_as_string(hide_password=True)
        remedy = "create it with `leadflow init` (or `leadflow demo` for a sample company)"
        file = url.database if url.get_backend_name() == "sqlite" and url.database != ":memory:" else None
        if schema and file and not Path(file).exists():
            fail(f"there is no database at {file}: {remedy}")
        engine = make_engine(self.db_url)
        if schema:
            current, head = current_revision(engine), head_revision()
            if current is None:
                fail(f"{shown} has no leadflow schema yet: {remedy}")
            elif current != head:
                fail(
                    f"{shown} is at schema revision {current}; this leadflow needs {head}: "
                    "upgrade it with `leadflow init`"
                )
        return engine

    def settings(self) -> Settings:
        return load_settings(self.config)


state = State()


@app.callback()
def main(
    db: Annotated[str | None, typer.Option("--db", help="Database URL (else LEADFLOW_DATABASE_URL).")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="Path of leadflow.toml.")] = None,
    actor: Annotated[str, typer.Option("--as", help="Who is acting, for history rows.")] = "cli",
) -> None:
    """leadflow: capture, score, route, work and measure B2B sales leads.

    Example: leadflow --db sqlite:///crm.db leads list --stage won --format csv
    """
    state.db_url = database_url(db)
    state.config = config
    state.actor = actor


def fail(message: str, code: int = 1) -> None:
    """Print an error and exit with ``code``."""
    errors.print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    raise typer.Exit(code)


@contextmanager
def reported() -> Iterator[None]:
    """Turn a service's refusal (not found, not allowed, bad input or configuration) into a message."""
    try:
        yield
    except LeadflowError as exc:
        fail(str(exc))


def render(frame: pl.DataFrame, fmt: str, *, title: str | None = None) -> None:
    """Print a frame as a Rich table, CSV or JSON."""
    if fmt == "csv":
        sys.stdout.write(frame.write_csv(datetime_format="%Y-%m-%dT%H:%M:%S"))
    elif fmt == "json":
        sys.stdout.write(json.dumps(frame.to_dicts(), default=str, indent=1) + "\n")
    elif fmt == "table":
        table = Table(title=title, show_lines=False)
        for column in frame.columns:
            table.add_column(column, overflow="fold")
        for row in frame.iter_rows():
            table.add_row(*["" if v is None else str(v) for v in row])
        console.print(table)
    else:
        fail(f"unknown format {fmt!r}; use {FORMAT_HELP}", 2)


@app.command()
def init() -> None:
    """Create or upgrade the database schema.

    Example: leadflow --db postgresql://localhost/leadflow init
    """
    revision = upgrade(state.engine(schema=False))
    console.print(f"database {state.db_url} is at schema revision {revision}")


def _run_import(kind: Kind, files: list[tuple[Kind, Path, Any]], rejects_path: Path | None) -> None:
    engine = state.engine()
    settings = _settings()
    summaries: list[ImportSummary] = []
    for file_kind, path, mapping in files:
        with reported(), session_scope(engine) as session:
            job = open_import(session, kind=file_kind, path=path, mapping=mapping, settings=settings)
        with Progress(
            TextColumn(f"{file_kind:<10} {path.name}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=errors,
            transient=False,
            disable=not errors.is_terminal,
        ) as progress:
            task = progress.add_task("import", total=job.reader.size)
            with bulk_mode(engine, job=job):
                for batch in job.batches():
                    with session_scope(engine) as session:
                        import_batch(session, job=job, batch=batch)
                    progress.update(task, completed=job.reader.position)
            progress.update(task, completed=job.reader.size)
        summaries.append(job.summary)
    table = Table(title="import")
    for column in ("kind", "file", "rows", "new", "changed", "unchanged", "rejected"):
        table.add_column(column, justify="right" if column not in ("kind", "file") else "left")
    for s in summaries:
        table.add_row(
            s.kind,
            Path(s.file).name,
            f"{s.rows:,}",
            f"{s.new:,}",
            f"{s.changed:,}",
            f"{s.unchanged:,}",
            f"{len({(r.file, r.line) for r in s.rejects}):,}",
        )
    console.print(table)
    all_rejects = [r for s in summaries for r in s.rejects]
    if all_rejects:
        target = rejects_path or Path(f"rejects-{kind}.csv")
        write_report(target, all_rejects)
        for reject in all_rejects[:10]:
            errors.print(reject.message(), markup=False, highlight=False)
        more = f" ({len(all_rejects) - 10:,} more)" if len(all_rejects) > 10 else ""
        errors.print(f"{len(all_rejects):,} problems{more}; all listed in {target}", markup=False)


def _import_command(kind: Kind) -> Any:
    def command(
        file: Annotated[Path, typer.Argument(help="CSV file, or a folder for a multi-file preset.")],
        preset: Annotated[
            str | None,
            typer.Option("--preset", help="Named layout (maven-crm) or a TOML mapping file."),
        ] = None,
        maps: Annotated[list[str] | None, typer.Option("--map", help="canonical=column, repeatable.")] = None,
        mapping: Annotated[
            Path | None, typer.Option("--mapping", help="TOML mapping file with a [columns] table.")
        ] = None,
        rejects: Annotated[
            Path | None, typer.Option("--rejects", help="Where to write the reject report.")
        ] = None,
    ) -> None:
        with reported():
            if preset:
                loaded = load_preset(preset)
                if file.is_dir():
                    files = preset_files(loaded, file)
                else:
                    one = getattr(loaded, kind)
                    if one is None:
                        fail(f"preset {preset} has no layout for {kind}")
                    files = [(kind, file, one)]
            else:
                files = [
                    (
                        kind,
                        file,
                        single_file_mapping(kind, maps or [], str(mapping) if mapping else None),
                    )
                ]
        _run_import(kind, files, rejects)

    command.__doc__ = f"""Import {kind} from a CSV file; bad rows go to a reject report, good ones in.

    Re-running the same import changes nothing. Examples:
    leadflow {kind} import {kind}.csv
    leadflow {kind} import export.csv --map name=Full_Name --rejects bad.csv
    leadflow leads import --preset maven-crm ../shared/data/maven-crm
    """
    return command


for _kind, _app in (
    ("leads", leads_app),
    ("reps", reps_app),
    ("sources", sources_app),
    ("activities", activities_app),
    ("companies", companies_app),
    ("products", products_app),
):
    _app.command("import")(_import_command(_kind))  # type: ignore[arg-type]


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
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "table",
) -> None:
    """List leads; csv and json write every match with the canonical columns.

    Example: leadflow leads list --stage won --format csv > won.csv
    """
    with session_scope(state.engine()) as session:
        owner_id = _rep_id(session, owner)
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


def _rep_id(session: Any, ref: str | None) -> int | None:
    if ref is None:
        return None
    with reported():
        return find_rep(session, ref=ref).id
    return None


@leads_app.command("show")
def leads_show(
    lead: Annotated[str, typer.Argument(help="Lead id or external id.")],
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "table",
) -> None:
    """Show one lead and its story: assignments (and why), activities, stages, field history.

    Example: leadflow leads show 1C1I7A6R
    """
    settings = _settings()
    with session_scope(state.engine()) as session, reported():
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
    with session_scope(state.engine()) as session:
        ids = requeue_due_nurture(session)
    console.print(f"{len(ids):,} nurtured leads are due and back in the queue")


@reps_app.command("list")
def reps_list(fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "table") -> None:
    """List reps with team, manager, territories, capacity, and leads owned.

    Example: leadflow reps list --format csv
    """
    with session_scope(state.engine()) as session:
        frame = list_reps(session)
    render(frame, fmt, title="reps")


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        fail(f"{value!r} is not a date/time like 2026-11-22 or 2026-11-22T14:30")
    return None


@activity_app.command("log")
def activity_log(
    lead: Annotated[str, typer.Argument(help="Lead id or external id.")],
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
    with session_scope(state.engine()) as session, reported():
        target = find_lead(session, ref=lead)
        who = find_rep(session, ref=rep) if rep else None
        if who is None and target.owner_id is not None:
            who = find_rep(session, ref=target.owner_id)
        activity = log_activity(
            session, lead=target, rep=who, kind=kind, outcome=outcome, note=note, at=_when(at)
        )
        score_leads(session, settings=_settings(), lead_ids=[target.id])

    console.print(f"logged {activity.kind} on lead {target.id} at {activity.at:%Y-%m-%d %H:%M}")


@stage_app.command("set")
def stage_set(
    lead: Annotated[str, typer.Argument(help="Lead id or external id.")],
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
    with session_scope(state.engine()) as session, reported():
        target = find_lead(session, ref=lead)
        item = find_product(session, ref=product) if product else None
        set_stage(
            session, lead=target, stage=stage, by=state.actor, amount=amount, product=item, reason=reason,
            follow_up_at=_when(follow_up),
        )  # fmt: skip
    console.print(f"lead {target.id} is now {target.stage}")


@app.command()
def assign(
    lead: Annotated[str, typer.Argument(help="Lead id or external id.")],
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
    if (rep is None) == (partner is None):
        fail("name either a rep or --partner", 2)
    with session_scope(state.engine()) as session, reported():
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


@partners_app.command("report")
def partners_report_command(
    partner: Annotated[str, typer.Argument(help="The partner's name.")],
    start: Annotated[datetime, typer.Option("--from", help="First day of the period.")],
    end: Annotated[datetime, typer.Option("--to", help="Day after the period.")],
    worked: Annotated[int, typer.Option(help="Leads the partner worked in the period.")],
    won: Annotated[int, typer.Option(help="Deals the partner won.")],
    revenue: Annotated[float, typer.Option(help="Revenue the partner reports.")],
) -> None:
    """Record a partner's aggregate results for a period (a new report of the same period
    replaces the old one).

    Example: leadflow partners report "Acme Distribution" --from 2026-10-01 --to 2026-11-01 \\
        --worked 40 --won 6 --revenue 54000
    """
    with session_scope(state.engine()) as session, reported():
        record_partner_report(
            session, partner=partner, period_start=start, period_end=end, leads_worked=worked, won=won,
            revenue=revenue,
        )  # fmt: skip
    console.print(f"recorded {partner}: {worked} worked, {won} won, {revenue:,.0f} revenue")


@report_app.command("partners")
def report_partners(
    since: Since = None,
    until: Until = None,
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "table",
) -> None:
    """The partner channel beside the direct reps: leads issued, reported worked, won and
    revenue, the cost of the leads, conversion (won / issued) with its 95% interval, and ROI.

    Example: leadflow report partners --since 2026-01-01
    """
    with session_scope(state.engine()) as session:
        table = partners_report(session, filters=ReportFilter(since=since, until=until))
    if table.is_empty():
        fail("no leads issued to partners or reps in this period")
    if fmt == "table":
        table = _ratio_text(table).with_columns(
            pl.col("cost").round(0),
            pl.col("revenue").round(0),
            pl.format("{}%", (pl.col("roi") * 100).round(0)).alias("roi"),
        )
    render(table, fmt, title="partners and direct reps")


@app.command()
def score(
    train: Annotated[
        bool, typer.Option("--train", help="First learn the win probability from closed leads.")
    ] = False,
    all_leads: Annotated[
        bool, typer.Option("--all", help="Also rescore won, lost and disqualified leads.")
    ] = False,
) -> None:
    """Rescore open leads in bulk: fit to the profile, grade, and the learned win probability.

    With --train, first learn P(win) from leads whose outcome is known and print how well it
    does on the newest of them against the simplest baseline (win rate by source).
    New leads are scored as they are captured; run this after changing the profile.
    Example: leadflow score --train
    """
    settings = _settings()
    engine = state.engine()
    with write_cache(engine), session_scope(engine) as session:
        if train:
            try:
                result = train_model(session)
            except NotEnoughHistory as exc:
                console.print(f"[yellow]no model trained:[/yellow] {exc}", highlight=False)
            else:
                _print_training(result)
        with reported():
            count = score_leads(session, settings=settings, include_closed=all_leads)
        grades = grade_counts(session)
    console.print(f"scored {count:,} leads")
    render(grades, "table", title="open leads by grade")


def _print_training(result: TrainResult) -> None:
    start, end = result.window
    console.print(
        f"model {result.model_id}: trained on {result.n_train:,} leads created "
        f"{start:%Y-%m-%d} to {end:%Y-%m-%d} "
        f"(older than {result.horizon_days:.0f} days, the usual time to close), tested on the newest "
        f"{result.n_test:,}",
        highlight=False,
    )
    rows = [
        (name, m["auc"], m["brier"], m["calibration_error"], m["base_rate"])
        for name, m in (
            ("model", result.metrics["model"]),
            ("baseline: win rate by source", result.metrics["baseline"]),
        )
    ]
    render(
        pl.DataFrame(
            rows, schema=["holdout", "roc_auc", "brier", "calibration_error", "base_rate"], orient="row"
        ).with_columns(pl.col(pl.Float64).round(4)),
        "table",
        title="holdout metrics",
    )
    render(result.reliability.with_columns(pl.col(pl.Float64).round(3)), "table", title="reliability")
    render(result.lift.with_columns(pl.col(pl.Float64).round(3)), "table", title="lift by decile")


def _settings() -> Settings:
    with reported():
        return state.settings()
    raise AssertionError("unreachable: reported() exits on error")


@report_app.command("profile")
def report_profile(
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "table",
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
    with session_scope(state.engine()) as session:
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
        write_profile(target, report.suggested)
        console.print(f"wrote {len(report.suggested)} suggested criteria to {target}")


Since = Annotated[datetime | None, typer.Option(help="Leads created on or after this date.")]
Until = Annotated[datetime | None, typer.Option(help="Leads created before this date.")]
TeamOption = Annotated[str | None, typer.Option("--team", help="Only leads whose owner is in this team.")]
TerritoryOption = Annotated[
    str | None,
    typer.Option("--territory", help="Only leads of this territory (the lead's, else its owner's)."),
]
SourceOption = Annotated[str | None, typer.Option("--source", help="Only leads from this source.")]
LeadTypeOption = Annotated[str | None, typer.Option("--lead-type", help="Only leads of this type.")]


def _ratio_text(frame: pl.DataFrame) -> pl.DataFrame:
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
def report_conversion(
    by: Annotated[
        str,
        typer.Option(help=f"Group by these, comma-separated: {', '.join(DIMENSIONS)}."),
    ] = "rep",
    since: Since = None,
    until: Until = None,
    team: TeamOption = None,
    territory: TerritoryOption = None,
    source: SourceOption = None,
    lead_type: LeadTypeOption = None,
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "table",
) -> None:
    """Conversion: leads in, worked, won, lost, open, and won / (won + lost) with its 95% Wilson
    interval, by rep, team, territory, source, lead type, product or month, or combinations;
    distributed and self-sourced leads apart; split credit counted by share.

    Example: leadflow report conversion --by rep
    Example: leadflow report conversion --by territory,month --since 2026-01-01 --format csv
    """
    filters = ReportFilter(since, until, team, territory, source, lead_type)
    dimensions = [d.strip() for d in by.split(",") if d.strip()]
    with session_scope(state.engine()) as session:
        try:
            table = conversion_report(session, by=dimensions, filters=filters)
        except ValueError as exc:
            fail(str(exc), 2)
    if table.is_empty():
        fail("no leads match these filters")
    render(_ratio_text(table) if fmt == "table" else table, fmt, title="conversion")


@report_app.command("reps")
def report_reps(
    since: Since = None,
    until: Until = None,
    team: TeamOption = None,
    territory: TerritoryOption = None,
    source: SourceOption = None,
    lead_type: LeadTypeOption = None,
    as_of: Annotated[
        datetime | None,
        typer.Option(help="End of the recent window (default: the newest lead's creation date)."),
    ] = None,
    recent_months: Annotated[int, typer.Option(help="Months in the recent window.")] = 3,
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "table",
) -> None:
    """Weak leads or weak closer: each rep's wins against what their leads' win probabilities
    promised (a model that never sees the rep), close rate and its shrunk estimate with 95%
    intervals, the mix of leads they got, whether they lag (their recent drop beyond the
    team's), and whether reps differ more than chance at all.

    Example: leadflow report reps
    Example: leadflow report reps --team "EMEA team" --format csv > reps.csv
    """
    filters = ReportFilter(since, until, team, territory, source, lead_type)
    with session_scope(state.engine()) as session:
        report = reps_report(session, filters=filters, as_of=as_of, recent_months=recent_months)
    if report.table.is_empty():
        fail("no rep has leads matching these filters")
    spread = report.spread
    if fmt != "table":
        render(report.table, fmt, title="reps")
        return
    console.print(
        f"Close rates across {report.table.height} reps: spread (sd) {spread.observed_sd:.1%}, of which "
        f"binomial noise alone would give {spread.noise_sd:.1%}: {spread.noise_share:.0%} of the "
        f"variance is noise; chi-square {spread.statistic:.1f} on {spread.dof} df, p = {spread.p_value:.2g} "
        + ("(reps really differ)" if spread.p_value < 0.05 else "(no evidence that reps differ)"),
        highlight=False,
    )
    console.print(
        f"Lagging: leads created from {report.recent_start:%Y-%m-%d} against the "
        f"{(report.recent_start - report.past_start).days} days before, beyond the team's own change.",
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
    )
    render(table, fmt, title="reps")


@report_app.command("cohorts")
def report_cohorts(
    since: Since = None,
    until: Until = None,
    team: TeamOption = None,
    territory: TerritoryOption = None,
    source: SourceOption = None,
    lead_type: LeadTypeOption = None,
    as_of: Annotated[
        datetime | None,
        typer.Option(help="Open leads are censored here (default: the ledger's newest date)."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "table",
) -> None:
    """Time to close: for each monthly cohort and all leads, the share won within 1, 2, 3, 6, 9
    and 12 months of creation; open leads count as not closed yet (censored), lost ones as a
    competing outcome (Aalen-Johansen). Blank where a cohort has not been followed that long.

    Example: leadflow report cohorts
    Example: leadflow report cohorts --source "Webinar" --format csv
    """
    filters = ReportFilter(since, until, team, territory, source, lead_type)
    with session_scope(state.engine()) as session:
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
def report_sources(
    since: Since = None,
    until: Until = None,
    team: TeamOption = None,
    territory: TerritoryOption = None,
    source: SourceOption = None,
    lead_type: LeadTypeOption = None,
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "table",
) -> None:
    """Source ROI: leads, cost per lead, per opportunity and per won deal, revenue, ROI, the
    conversion ratio with its 95% interval, and a flag on a source that stopped working (its
    recent ratio fell beyond the other sources' own change).

    Example: leadflow report sources --since 2026-01-01
    Example: leadflow report sources --format csv > sources.csv
    """
    filters = ReportFilter(since, until, team, territory, source, lead_type)
    with session_scope(state.engine()) as session:
        report = sources_report(session, filters=filters)
    if report.table.is_empty():
        fail("no leads match these filters")
    if fmt != "table":
        render(report.table, fmt, title="sources")
        return

    def money(column: str) -> pl.Expr:
        return pl.col(column).round(0).cast(pl.Int64)

    costs = ("cost", "cost_per_lead_actual", "cost_per_opportunity", "cost_per_won", "revenue")
    stopped = pl.when(pl.col("stopped_working")).then(pl.lit("STOPPED WORKING")).otherwise(pl.lit(""))
    table = _ratio_text(report.table).select(
        "source", "leads", "opportunities", "won", "conversion",
        *(money(c) for c in costs),
        pl.format("{}%", (pl.col("roi") * 100).round(0)).alias("roi"),
        stopped.alias("trend"),
    )  # fmt: skip
    table = table.rename(
        {"cost_per_lead_actual": "per lead", "cost_per_opportunity": "per opp.", "cost_per_won": "per won"}
    )
    console.print("Cost: cost per lead x leads, plus monthly spend for each month the source brought leads.")
    render(table, fmt, title="sources")


@report_app.command("funnel")
def report_funnel(
    since: Since = None,
    until: Until = None,
    team: TeamOption = None,
    territory: TerritoryOption = None,
    source: SourceOption = None,
    lead_type: LeadTypeOption = None,
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "table",
) -> None:
    """Funnel KPIs: inquiry to lead to opportunity to won with 95% intervals, speed to lead and
    conversion by speed, leads per rep against capacity, activities and calls per won deal, and
    the leads never worked with what they cost.

    Example: leadflow report funnel --since 2026-01-01
    Example: leadflow report funnel --format json > funnel.json
    """
    filters = ReportFilter(since, until, team, territory, source, lead_type)
    with session_scope(state.engine()) as session:
        report = funnel_report(session, filters=filters)
    if fmt == "json":
        sys.stdout.write(json.dumps(report.as_dict(), default=str, indent=1) + "\n")
        return
    if fmt == "csv":
        render(report.stages, fmt)
        return
    render(_ratio_text(report.stages), fmt, title="funnel")
    hours = report.speed_hours
    if hours["p50"] is None:
        console.print("Speed to lead: no first touch recorded after an assignment.")
    else:
        console.print(
            f"Speed to lead: half of the leads touched within {hours['p50']:.0f} h, 75% within "
            f"{hours['p75']:.0f} h, 90% within {hours['p90']:.0f} h of assignment.",
            highlight=False,
        )
        render(_ratio_text(report.speed), fmt, title="conversion by speed to lead")
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


@app.command()
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
    settings = _settings()
    if policy is not None and policy not in get_args(PolicyName):
        fail(f"unknown policy {policy!r}; policies: {', '.join(get_args(PolicyName))}", 2)
    engine = state.engine()
    with write_cache(engine), session_scope(engine) as session, reported():
        plan = route_leads(
            session,
            settings=settings,
            policy=cast(PolicyName | None, policy),
            limit=limit,
            dry_run=dry_run,
            seed=seed,
            by=state.actor,
        )
    decisions = plan.table.select(
        pl.coalesce("lead_external_id", pl.col("lead_id").cast(pl.String)).alias("lead_external_id"),
        "rep_external_id",
        "policy",
        "win_probability",
        "reason",
        "queue",
    )
    if export_to is not None:
        decisions.drop("queue").write_csv(export_to)
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


@sla_app.command("sweep")
def sla_sweep_command() -> None:
    """Escalate leads past their first-touch deadline, then pass them to the next eligible rep.

    Deadlines are per grade in working hours ([sla] in leadflow.toml); a rep who missed a lead
    never gets it back, and the miss stays on their record. Run it every few minutes.
    Example: leadflow sla sweep
    """
    settings = _settings()
    with session_scope(state.engine()) as session, reported():
        result = sla_sweep(session, settings=settings, by=state.actor)
    console.print(
        f"escalated {len(result.escalated):,}, reassigned {len(result.reassigned):,} "
        f"({sum(1 for r in result.reassigned.values() if r is None):,} of them to the queue), "
        f"capped {len(result.capped):,}",
        highlight=False,
    )


@app.command()
def queue(fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "table") -> None:
    """Leads routing could not place: the reserve (reps at capacity) and the unassigned, with why.

    Example: leadflow queue --format csv
    """
    with session_scope(state.engine()) as session:
        frame = routing_queue(session)
    render(frame, fmt, title="routing queue")


@app.command()
def export(
    out: Annotated[Path, typer.Argument(help="CSV file to write.")],
    kind: Annotated[str, typer.Option(help="leads or reps.")] = "leads",
) -> None:
    """Export every lead (or rep) to CSV: the canonical columns, then each extra attribute.

    The file imports back into leadflow (or elsewhere) as it is.

    Example: leadflow export leads.csv
    """
    with session_scope(state.engine()) as session:
        if kind == "leads":
            frame = list_leads(session, filters=LeadFilter(), with_extras=True)
        elif kind == "reps":
            frame = list_reps(session)
        else:
            fail("--kind must be leads or reps")
    frame.write_csv(out, datetime_format="%Y-%m-%dT%H:%M:%S")
    console.print(f"wrote {frame.height:,} {kind} to {out}")


@app.command()
def demo(
    leads: Annotated[int, typer.Option(help="How many leads in the year.")] = 50_000,
    reps: Annotated[int, typer.Option(help="How many reps.")] = 24,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same company.")] = 7,
    reset: Annotated[bool, typer.Option(help="Empty the database first.")] = False,
) -> None:
    """Generate a synthetic company with a year of leads, activities and outcomes.

    Reps differ in hidden skill and capacity, sources in quality and cost, and a late first touch
    really converts worse, so every report has something true to find.
    Example: leadflow --db sqlite:///demo.db demo --leads 50000 --seed 7 --reset
    """
    engine = state.engine(schema=False)
    if reset:
        drop_all(engine)
    upgrade(engine)
    spec = CompanySpec(n_leads=leads, n_reps=reps, seed=seed)
    with console.status("generating the company..."), session_scope(engine) as session:
        summary = write_demo(session, spec=spec, settings=_settings())
    render(summary, "table", title=f"demo company (seed {seed})")
    with session_scope(engine) as session:
        logins = add_demo_logins(session)
    console.print("Demo logins (passwords and tokens are made now and shown only here):", highlight=False)
    for role, email, password, token in logins:  # plain lines: a terminal must not wrap a token
        sys.stdout.write(f"  {role:<8} {email:<28} password {password}  API token {token}\n")


@app.command()
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
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "table",
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

    Example: leadflow simulate --policy round_robin --policy optimal
    Example: leadflow --db sqlite:///crm.db simulate --fitted
    Example: leadflow --db sqlite:///crm.db simulate --history --since 2017-07-01 --until 2018-01-01
    """
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
        with session_scope(state.engine()) as session, reported():
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
            with session_scope(state.engine()) as session, reported():
                company = fit_company(session)
        else:
            company = generate_company(CompanySpec(n_leads=leads, n_reps=reps, seed=seed))
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
            pl.col("over_capacity").alias("to reserve"),
            pl.format("{}%", (pl.col("sla_miss_share") * 100).round(1)).alias("SLA missed"),
        ),
        fmt,
        title="routing policies on the same leads",
    )


@notify_app.command("deliver")
def notify_deliver() -> None:
    """Send the notifications that are due (webhooks signed, emails through SMTP); a failure is
    retried later with backoff. `leadflow serve` does this on its own every few seconds.

    Example: LEADFLOW_WEBHOOK_SECRET=... leadflow notify deliver
    """
    with session_scope(state.engine()) as session, reported():
        done = deliver_due(session, settings=state.settings())
    console.print(
        f"{len(done.delivered)} delivered, {len(done.retrying)} to retry, {len(done.failed)} failed",
        highlight=False,
    )


@notify_app.command("log")
def notify_log(
    status: Annotated[str | None, typer.Option(help="Only pending, delivered or failed.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "table",
) -> None:
    """The delivery log: each notification, where it went, its attempts and last error.

    Example: leadflow notify log --status failed
    """
    with session_scope(state.engine()) as session:
        render(delivery_log(session, status=status, limit=limit), fmt, title="notifications")


@users_app.command("add")
def users_add(
    email: Annotated[str, typer.Argument(help="The user's email address (their login).")],
    role: Annotated[str, typer.Option(help="admin, manager, rep or intake.")],
    name: Annotated[str, typer.Option(help="Their name.")] = "",
    rep: Annotated[str | None, typer.Option(help="For a rep user: the rep they are.")] = None,
    team: Annotated[str | None, typer.Option(help="For a manager: the team they manage.")] = None,
    password: Annotated[
        bool, typer.Option("--password", help="Ask for a password (for the dashboard login).")
    ] = False,
) -> None:
    """Create a user with one role: admin (everything), manager (their team), rep (their own
    leads) or intake (only capture leads).

    Example: leadflow users add ann@example.com --role rep --rep rep-001 --password
    Example: leadflow users add forms@example.com --role intake
    """
    secret = typer.prompt("password", hide_input=True, confirmation_prompt=True) if password else None
    with session_scope(state.engine()) as session, reported():
        who = find_rep(session, ref=rep) if rep else None
        managed = session.scalars(select(Team).where(Team.name == team)).first() if team else None
        if team and managed is None:
            raise NotFound(f"no team {team!r}")
        user = add_user(session, email=email, name=name, role=role, password=secret, rep=who, team=managed)
        label = f"{user.email} ({user.role})"
    console.print(f"added {label}", highlight=False)


@users_app.command("token")
def users_token(
    email: Annotated[str, typer.Argument(help="The user the token acts as.")],
    name: Annotated[str, typer.Option(help="What the token is for.")] = "token",
    days: Annotated[int | None, typer.Option(help="Expire after this many days (default never).")] = None,
    revoke: Annotated[str | None, typer.Option(help="Revoke the token starting with this instead.")] = None,
) -> None:
    """Issue an API token for a user (shown this once; only its hash is kept), or revoke one.

    Example: leadflow users token forms@example.com --name "web form" --days 365
    Example: leadflow users token forms@example.com --revoke lf_AbC12
    """
    with session_scope(state.engine()) as session, reported():
        user = find_user(session, email=email)
        if revoke:
            revoke_token(session, user=user, prefix=revoke)
            console.print(f"revoked {revoke}...", highlight=False)
            return
        expires = utcnow() + timedelta(days=days) if days else None
        _, token = issue_token(session, user=user, name=name, expires_at=expires)
    console.print("API token (shown once; keep it secret):", highlight=False)
    sys.stdout.write(token + "\n")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes.")] = 1,
) -> None:
    """Run the API (OpenAPI at /docs) and the dashboard (/web/) with uvicorn; logs are JSON lines.

    Example: leadflow --db postgresql://localhost/leadflow serve --host 0.0.0.0 --workers 4
    """
    import uvicorn

    settings = _settings()
    upgrade(state.engine(schema=False))
    if workers > 1:  # each worker process builds its app from the environment
        os.environ["LEADFLOW_DATABASE_URL"] = state.db_url
        if state.config:
            os.environ["LEADFLOW_CONFIG"] = str(state.config)
        uvicorn.run("leadflow.server:app", host=host, port=port, workers=workers, log_config=logging_config())
    else:
        app_ = create_app(engine=state.engine(), settings=settings, upkeep=True, capture_worker=True)
        uvicorn.run(app_, host=host, port=port, log_config=logging_config())


def run() -> None:
    """Entry point that turns configuration errors into messages."""
    try:
        app()
    except ConfigError as exc:
        errors.print(f"error: {exc}", markup=False)
        raise SystemExit(1) from exc
