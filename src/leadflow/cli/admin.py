"""Running leadflow: the schema, users and tokens, notifications, the partner channel's reports, and
the server."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta
from typing import Annotated

import typer

from leadflow.cli.common import Format, console, render, reported, state

partners_app = typer.Typer(help="The partner channel: distributors' aggregate results.", no_args_is_help=True)
users_app = typer.Typer(help="Users, their roles and API tokens.", no_args_is_help=True)
notify_app = typer.Typer(
    help="Notifications on assignment and escalation: send what is due, see the delivery log.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """The init and serve commands and the partners, users and notify groups."""
    app.command()(init)
    app.add_typer(partners_app, name="partners")
    app.add_typer(users_app, name="users")
    app.add_typer(notify_app, name="notify")
    app.command()(serve)


def init() -> None:
    """Create or upgrade the database schema.

    Example: leadflow --db postgresql://localhost/leadflow init
    """
    from leadflow.migrations.admin import upgrade

    revision = upgrade(state.engine(schema=False))
    console.print(f"database {state.db_url} is at schema revision {revision}")


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
    from leadflow.pipeline.partners import record_partner_report

    with state.session() as session, reported():
        record_partner_report(
            session, partner=partner, period_start=start, period_end=end, leads_worked=worked, won=won,
            revenue=revenue,
        )  # fmt: skip
    console.print(f"recorded {partner}: {worked} worked, {won} won, {revenue:,.0f} revenue")


@notify_app.command("deliver")
def notify_deliver() -> None:
    """Send the notifications that are due (webhooks signed, emails through SMTP); a failure is
    retried later with backoff. `leadflow serve` does this on its own every few seconds.

    Example: LEADFLOW_WEBHOOK_SECRET=... leadflow notify deliver
    """
    from leadflow.notify.deliver import deliver_due

    with state.session() as session, reported():
        done = deliver_due(session, settings=state.settings())
    console.print(
        f"{len(done.delivered)} delivered, {len(done.retrying)} to retry, {len(done.failed)} failed",
        highlight=False,
    )


@notify_app.command("log")
def notify_log(
    status: Annotated[str | None, typer.Option(help="Only pending, delivered or failed.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
    fmt: Format = "table",
) -> None:
    """The delivery log: each notification, where it went, its attempts and last error.

    Example: leadflow notify log --status failed
    """
    from leadflow.notify.deliver import delivery_log

    with state.session(write=False) as session:
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
    from leadflow.access.service import add_user
    from leadflow.ledger.find import find_rep, find_team

    secret = typer.prompt("password", hide_input=True, confirmation_prompt=True) if password else None
    with state.session() as session, reported():
        who = find_rep(session, ref=rep) if rep else None
        managed = find_team(session, ref=team) if team else None
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
    from leadflow.access.service import find_user, issue_token, revoke_token
    from leadflow.models import utcnow

    with state.session() as session, reported():
        user = find_user(session, email=email)
        if revoke:
            revoke_token(session, user=user, prefix=revoke)
            console.print(f"revoked {revoke}...", highlight=False)
            return
        expires = utcnow() + timedelta(days=days) if days else None
        _, token = issue_token(session, user=user, name=name, expires_at=expires)
    console.print("API token (shown once; keep it secret):", highlight=False)
    sys.stdout.write(token + "\n")


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes.")] = 1,
) -> None:
    """Run the API (OpenAPI at /docs) and the dashboard (/web/) with uvicorn; logs are JSON lines.

    Example: leadflow --db postgresql://localhost/leadflow serve --host 0.0.0.0 --workers 4
    """
    import uvicorn

    from leadflow.app import create_app
    from leadflow.logs import logging_config
    from leadflow.migrations.admin import upgrade

    settings = state.bootstrap()  # the ledger's settings, once it keeps any, are read per request
    upgrade(state.engine(schema=False))
    if workers > 1:  # each worker process builds its app from the environment
        os.environ["LEADFLOW_DATABASE_URL"] = state.db_url
        if state.config:
            os.environ["LEADFLOW_CONFIG"] = str(state.config)
        uvicorn.run(
            "leadflow.app:create_app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=logging_config(),
        )
    else:
        app_ = create_app(engine=state.engine(), settings=settings, upkeep=True, capture_worker=True)
        uvicorn.run(app_, host=host, port=port, log_config=logging_config())


def _change_user(email: str, change: str, **values: str | None) -> None:
    """Apply one account change to the user with this email, and say what was done."""
    from leadflow.access import accounts
    from leadflow.access.service import find_user
    from leadflow.ledger.find import find_rep, find_team

    with state.session() as session, reported():
        user = find_user(session, email=email)
        if change == "disable":
            accounts.set_active(session, user=user, active=False)
        elif change == "enable":
            accounts.set_active(session, user=user, active=True)
        elif change == "role":
            rep_ref, team_ref = values.get("rep"), values.get("team")
            rep = find_rep(session, ref=rep_ref) if rep_ref else None
            team = find_team(session, ref=team_ref) if team_ref else None
            accounts.set_role(session, user=user, role=str(values["role"]), rep=rep, team=team)
        else:
            accounts.set_password(session, user=user, password=str(values["password"]))
        label = f"{user.email} ({user.role}{'' if user.active else ', disabled'})"
    console.print(f"{change}: {label}", highlight=False)


@users_app.command("disable")
def users_disable(email: Annotated[str, typer.Argument(help="The user's email address.")]) -> None:
    """Disable a user: they can no longer sign in, and every token and session they hold ends now.

    Example: leadflow users disable ann@example.com
    """
    _change_user(email, "disable")


@users_app.command("enable")
def users_enable(email: Annotated[str, typer.Argument(help="The user's email address.")]) -> None:
    """Enable a disabled user again (their old tokens stay revoked: issue new ones).

    Example: leadflow users enable ann@example.com
    """
    _change_user(email, "enable")


@users_app.command("role")
def users_role(
    email: Annotated[str, typer.Argument(help="The user's email address.")],
    role: Annotated[str, typer.Argument(help="admin, manager, rep or intake.")],
    rep: Annotated[str | None, typer.Option(help="For a rep user: the rep they are.")] = None,
    team: Annotated[str | None, typer.Option(help="For a manager: the team they manage.")] = None,
) -> None:
    """Change a user's role; their dashboard sessions end.

    Example: leadflow users role ann@example.com manager --team "East team"
    """
    _change_user(email, "role", role=role, rep=rep, team=team)


@users_app.command("password")
def users_password(email: Annotated[str, typer.Argument(help="The user's email address.")]) -> None:
    """Set a user's dashboard password (asked for twice); their dashboard sessions end.

    Example: leadflow users password ann@example.com
    """
    secret = typer.prompt("new password", hide_input=True, confirmation_prompt=True)
    _change_user(email, "password", password=secret)
