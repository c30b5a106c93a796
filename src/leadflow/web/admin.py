"""Running the team from the dashboard: reps (add, edit, away and back, with the absences as a
calendar list), each team's routing, the territory rules with a preview before saving, and for
admins the users. The same services as the API; every change audited or versioned."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadflow.access import accounts
from leadflow.access.scope import owners_in_scope
from leadflow.access.service import ROLES, find_user, record_write
from leadflow.deps import BootstrapDep, SessionDep, SettingsDep, rep_or_404
from leadflow.errors import LeadflowError
from leadflow.ledger.find import find_rep, find_team
from leadflow.ledger.settings_versions import settings_history
from leadflow.models import Absence, Rep, Team, Territory, User, rep_territories, utcnow
from leadflow.pipeline.absences import set_away, set_back
from leadflow.pipeline.reps import add_rep, add_team, update_rep
from leadflow.routing.configure import (
    preview_territory_rules,
    set_rep_routing,
    set_team_routing,
    set_territory_rules,
)
from leadflow.routing.roster import territory_rules
from leadflow.settings import PolicyName, Settings, WorkingHours
from leadflow.web.auth import AdminVisitor, ManagerVisitor, PostedForm, Visitor, check_csrf
from leadflow.web.render import page, see_other

router = APIRouter(prefix="/web", include_in_schema=False)
Csrf = Annotated[str, Form(max_length=100)]
POLICIES: tuple[PolicyName, ...] = ("round_robin", "weighted", "load_balance", "merit", "optimal")
RULE_LISTS = ("countries", "regions", "states", "postal_prefixes", "industries", "accounts")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _back(path: str, text: str, *, error: bool = False) -> Response:
    return see_other(path, **{"error" if error else "message": text})


def _teams_in_reach(session: Session, who: Visitor) -> list[Team]:
    query = select(Team).order_by(Team.name)
    if who.user.role == "manager":
        query = query.where(Team.id == (who.user.team_id or -1))
    return list(session.scalars(query))


def _names(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,;\n]", text) if part.strip()]


@router.get("/team", response_class=HTMLResponse)
def team_page(request: Request, session: SessionDep, settings: SettingsDep, who: ManagerVisitor) -> Response:
    """The reps in reach with their capacity, caps, weights and absences; each team's routing."""
    scope = owners_in_scope(session, user=who.user)
    query = select(Rep).order_by(Rep.name)
    if scope is not None:
        query = query.where(Rep.id.in_(scope))
    reps = list(session.scalars(query))
    teams = {t.id: t for t in session.scalars(select(Team))}
    covered: dict[int, list[str]] = {}
    for rep_id, name in session.execute(
        select(rep_territories.c.rep_id, Territory.name)
        .join(Territory, Territory.id == rep_territories.c.territory_id)
        .where(rep_territories.c.rep_id.in_([r.id for r in reps]))
        .order_by(Territory.name)
    ):
        covered.setdefault(rep_id, []).append(name)
    now = utcnow()
    absences = session.execute(
        select(Absence, Rep.name, Rep.external_id)
        .join(Rep, Rep.id == Absence.rep_id)
        .where(Absence.ends_at > now, Absence.rep_id.in_([r.id for r in reps]))
        .order_by(Absence.starts_at)
    ).all()
    away_now = {a.rep_id: a.ends_at for a, _, _ in absences if a.starts_at <= now}
    routing = settings.routing
    rows = [
        {"rep": r, "team": teams[r.team_id].name if r.team_id in teams else None,
         "territories": covered.get(r.id, []), "daily_cap": routing.daily_caps.get(r.external_id),
         "weight": routing.for_team(teams[r.team_id].name if r.team_id in teams else None).weight_of(
             r.external_id), "away_until": away_now.get(r.id),
         "hours": WorkingHours.model_validate(r.working_hours) if r.working_hours else None}
        for r in reps
    ]  # fmt: skip
    in_reach = _teams_in_reach(session, who)
    return page(
        request, "team.html", user=who.user, csrf=who.csrf, active="team", rows=rows, absences=absences,
        teams=in_reach, routings={t.name: routing.for_team(t.name) for t in in_reach},
        own={t.name: t.name in routing.teams for t in in_reach}, policies=POLICIES, days=DAYS,
        default_hours=settings.sla.working_hours, today=now.date(), now=now,
        history=settings_history(session, limit=8), message=request.query_params.get("message"),
        error=request.query_params.get("error"),
    )  # fmt: skip


def _own_team_only(session: Session, who: Visitor, team: str) -> str | None:
    """The team a new or moved rep may join: any for an admin, their own for a manager."""
    if who.user.role == "admin":
        return team or None
    own = session.get(Team, who.user.team_id) if who.user.team_id else None
    if own is None or (team and team != own.name):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a manager's reps are on their own team")
    return own.name


@router.post("/team/reps")
def post_rep(
    session: SessionDep, who: ManagerVisitor, csrf: Csrf,
    external_id: Annotated[str, Form(min_length=1, max_length=200)],
    name: Annotated[str, Form(min_length=1, max_length=200)],
    email: Annotated[str, Form(max_length=320)] = "",
    team: Annotated[str, Form(max_length=200)] = "",
    territories: Annotated[str, Form(max_length=2000)] = "",
    capacity: Annotated[int | None, Form(ge=0, le=1_000_000)] = None,
    timezone: Annotated[str, Form(max_length=64)] = "UTC",
) -> Response:  # fmt: skip
    """Add a rep (a manager's joins their team)."""
    check_csrf(who, csrf)
    try:
        rep = add_rep(
            session, external_id=external_id, name=name, email=email.strip() or None,
            team=_own_team_only(session, who, team), territories=_names(territories), capacity=capacity,
            timezone=timezone.strip() or "UTC", by=who.user.email,
        )  # fmt: skip
    except LeadflowError as exc:
        return _back("/web/team", f"Not added: {exc}.", error=True)
    return _back("/web/team", f"{rep.name} added.")


@router.post("/team/reps/{rep_ref}")
def post_rep_change(
    form: PostedForm,
    rep_ref: str,
    session: SessionDep,
    bootstrap: BootstrapDep,
    who: ManagerVisitor,
) -> Response:
    """Change a rep: who they are, where they sell, how much, when they work, whether active."""
    check_csrf(who, str(form.get("csrf", "")))
    rep = rep_or_404(session, user=who.user, ref=rep_ref)
    fields = ("name", "email", "team", "timezone", "territories", "capacity", "daily_cap", "weight")
    text = {k: str(form.get(k, "")).strip()[:320] for k in fields}
    try:
        team = _own_team_only(session, who, text["team"]) if text["team"] else None
        own_hours = form.get("own_hours") == "yes"
        hours = (
            WorkingHours(
                start_hour=int(str(form.get("start_hour", 9))),
                end_hour=int(str(form.get("end_hour", 17))),
                days=[int(str(d)) for d in form.getlist("days")],
            )
            if own_hours else None
        )  # fmt: skip
        update_rep(
            session, rep=rep, by=who.user.email, name=text["name"] or None, email=text["email"] or None,
            team=team, territories=_names(str(form.get("territories", ""))),
            capacity=int(text["capacity"]) if text["capacity"] else None,
            active=form.get("active") == "yes", timezone=text["timezone"] or None, working_hours=hours,
        )  # fmt: skip
        set_rep_routing(
            session, rep=rep, team=session.get(Team, rep.team_id) if rep.team_id else None,
            bootstrap=bootstrap, by=who.user.email,
            daily_cap=int(text["daily_cap"]) if text["daily_cap"] else None,
            **({"weight": float(text["weight"])} if text["weight"] and rep.team_id else {}),
        )  # fmt: skip
    except (LeadflowError, ValueError) as exc:
        return _back("/web/team", f"{rep.name} not changed: {exc}.", error=True)
    return _back("/web/team", f"{rep.name} saved.")


@router.post("/team/away")
def post_away(
    session: SessionDep, who: ManagerVisitor, csrf: Csrf,
    rep: Annotated[str, Form(max_length=200)],
    since: Annotated[date, Form()],
    until: Annotated[date, Form()],
    reason: Annotated[str, Form(max_length=200)] = "",
) -> Response:  # fmt: skip
    """Mark a rep away from the start of ``since`` to the end of ``until``: no leads meanwhile."""
    check_csrf(who, csrf)
    person = rep_or_404(session, user=who.user, ref=rep)
    try:
        set_away(
            session, rep=person, starts_at=datetime.combine(since, time()),
            ends_at=datetime.combine(until + timedelta(days=1), time()), reason=reason.strip() or None,
        )  # fmt: skip
    except LeadflowError as exc:
        return _back("/web/team", f"Not marked away: {exc}.", error=True)
    record_write(
        session, actor=who.user.email, action="set away", entity="rep", entity_id=person.external_id,
        before=None, after={"from": str(since), "until": str(until), "reason": reason or None},
    )  # fmt: skip
    return _back("/web/team", f"{person.name} is away {since} to {until}: no leads meanwhile.")


@router.post("/team/reps/{rep_ref}/back")
def post_back(rep_ref: str, session: SessionDep, who: ManagerVisitor, csrf: Csrf) -> Response:
    """The rep is back now (planned absences stay)."""
    check_csrf(who, csrf)
    person = rep_or_404(session, user=who.user, ref=rep_ref)
    set_back(session, rep=person)
    record_write(session, actor=who.user.email, action="set back", entity="rep", entity_id=person.external_id,
                 before=None, after=None)  # fmt: skip
    return _back("/web/team", f"{person.name} is back and gets leads again.")


@router.post("/team/routing/{team_name}")
def post_team_routing(
    form: PostedForm,
    team_name: str,
    session: SessionDep,
    bootstrap: BootstrapDep,
    who: ManagerVisitor,
) -> Response:
    """Change a team's policy and its options: a new settings version, followed at once."""
    check_csrf(who, str(form.get("csrf", "")))
    team = next((t for t in _teams_in_reach(session, who) if t.name == team_name), None)
    if team is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such team")
    try:
        cap = str(form.get("daily_cap", "")).strip()
        changes: dict[str, Any] = {
            "policy": str(form.get("policy", "")),
            "daily_cap": int(cap) if cap else None,
            "merit_proportional": form.get("merit_proportional") == "yes",
        }
        for key in ("merit_spread", "min_share", "exploration_share"):
            if value := str(form.get(key, "")).strip():
                changes[key] = float(value)
        version = set_team_routing(
            session, team=team, changes=changes, bootstrap=bootstrap, by=who.user.email
        )
    except (LeadflowError, ValueError) as exc:
        return _back("/web/team", f"{team.name}'s routing not changed: {exc}.", error=True)
    if version is None:
        return _back("/web/team", f"{team.name}'s routing is already so.")
    return _back("/web/team", f"{team.name} now routes by {changes['policy'].replace('_', ' ')} "
                              f"(settings version {version.id}).")  # fmt: skip


@router.post("/team/teams")
def post_team(
    session: SessionDep, who: AdminVisitor, csrf: Csrf,
    name: Annotated[str, Form(min_length=1, max_length=200)],
    manager: Annotated[str, Form(max_length=200)] = "",
) -> Response:  # fmt: skip
    """Add a team (admins)."""
    check_csrf(who, csrf)
    try:
        team = add_team(session, name=name, manager=manager.strip() or None, by=who.user.email)
    except LeadflowError as exc:
        return _back("/web/team", f"Not added: {exc}.", error=True)
    return _back(
        "/web/team", f"Team {team.name} added; it routes by the default policy until you set its own."
    )


def _rules_from_form(form: Any) -> list[dict[str, Any]]:
    """The rules a territories form holds, in the order of their position fields; removed and
    blank ones left out."""
    rules = []
    numbers = sorted({int(m.group(1)) for k in form if (m := re.fullmatch(r"name_(\d+)", k))})
    for n in numbers:
        name = str(form.get(f"name_{n}", "")).strip()
        if not name or form.get(f"remove_{n}") == "yes":
            continue
        rule: dict[str, Any] = {"name": name}
        for key in RULE_LISTS:
            if values := _names(str(form.get(f"{key}_{n}", ""))):
                rule[key] = values
        for key in ("size_min", "size_max"):
            if value := str(form.get(f"{key}_{n}", "")).strip():
                rule[key] = value
        position = str(form.get(f"position_{n}", "")).strip()
        rules.append((float(position) if re.fullmatch(r"-?\d+(\.\d+)?", position) else n + 0.5, n, rule))
    return [rule for _, _, rule in sorted(rules, key=lambda r: (r[0], r[1]))]


def _territories_page(
    request: Request, session: Session, settings: Settings, who: Visitor, rules: list[dict[str, Any]],
    preview: list[str] | None = None, error: str | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    return page(
        request, "territories.html", user=who.user, csrf=who.csrf, active="territories", rules=rules,
        lists=RULE_LISTS, preview=preview, error=error or request.query_params.get("error"),
        message=request.query_params.get("message"), can_save=who.user.role == "admin",
        history=[v for v in settings_history(session, limit=20) if "routing.territories" in v.changes][:5],
        status_code=status_code,
    )  # fmt: skip


@router.get("/territories", response_class=HTMLResponse)
def territories_page(
    request: Request, session: SessionDep, settings: SettingsDep, who: ManagerVisitor
) -> Response:
    """The territory rules in force, in the order they are tried, editable with a preview."""
    rules = [
        r.model_dump(mode="json", exclude_defaults=True) for r in territory_rules(session, settings=settings)
    ]
    return _territories_page(request, session, settings, who, rules)


@router.post("/territories", response_class=HTMLResponse)
def post_territories(
    form: PostedForm,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    bootstrap: BootstrapDep,
    who: ManagerVisitor,
) -> Response:
    """Preview the rules as edited (anyone here), or save them (admins): a new settings version."""
    check_csrf(who, str(form.get("csrf", "")))
    rules = _rules_from_form(form)
    try:
        if form.get("do") == "save":
            if who.user.role != "admin":
                raise HTTPException(status.HTTP_403_FORBIDDEN, "territory rules are the admin's to change")
            version = set_territory_rules(session, rules=rules, bootstrap=bootstrap, by=who.user.email)
            said = (
                f"Territory rules saved (settings version {version.id})." if version else "No rule changed."
            )
            return _back("/web/territories", said)
        preview = preview_territory_rules(session, settings=settings, rules=rules)
    except LeadflowError as exc:
        return _territories_page(request, session, settings, who, rules, error=f"{exc}.", status_code=422)
    return _territories_page(request, session, settings, who, rules, preview=preview.sentences())


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, session: SessionDep, who: AdminVisitor) -> Response:
    """Every user with their role and standing; invite, change, disable, reset a password."""
    return _users_page(request, session, who)


def _users_page(request: Request, session: Session, who: Visitor, *, message: str | None = None,
                password: str | None = None) -> Response:  # fmt: skip
    """The users page; a new password is shown on this answer only (never in a URL or a log)."""
    users = list(session.scalars(select(User).order_by(User.email)))
    reps = {r.id: r for r in session.scalars(select(Rep).order_by(Rep.name))}
    teams = {t.id: t for t in session.scalars(select(Team).order_by(Team.name))}
    return page(
        request, "users.html", user=who.user, csrf=who.csrf, active="users", users=users, reps=reps,
        teams=teams, roles=ROLES,
        message=message or request.query_params.get("message"), error=request.query_params.get("error"),
        password=password,
    )  # fmt: skip


@router.post("/users", response_class=HTMLResponse)
def post_user(
    request: Request, session: SessionDep, who: AdminVisitor, csrf: Csrf,
    email: Annotated[str, Form(min_length=3, max_length=320)],
    name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=20)] = "rep",
    rep: Annotated[str, Form(max_length=200)] = "",
    team: Annotated[str, Form(max_length=200)] = "",
) -> Response:  # fmt: skip
    """Invite a user with a one-time password shown once to the admin, to pass on."""
    check_csrf(who, csrf)
    try:  # the form sends a rep and a team whatever the role: each counts for its own role only
        user, password = accounts.invite_user(
            session, email=email, name=name, role=role, rep=rep if rep and role == "rep" else None,
            team=team if team and role == "manager" else None, by=who.user.email,
        )  # fmt: skip
    except LeadflowError as exc:
        return _back("/web/users", f"Not invited: {exc}.", error=True)
    said = f"{user.email} invited as {role}; pass on this password, shown once, and ask them to change it:"
    return _users_page(request, session, who, message=said, password=password)


@router.post("/users/{email}", response_class=HTMLResponse)
def post_user_change(
    request: Request, email: str, session: SessionDep, who: AdminVisitor, csrf: Csrf,
    do: Annotated[str, Form(max_length=20)],
    role: Annotated[str, Form(max_length=20)] = "",
    rep: Annotated[str, Form(max_length=200)] = "",
    team: Annotated[str, Form(max_length=200)] = "",
) -> Response:  # fmt: skip
    """Disable or enable a user, change their role, or reset their password."""
    check_csrf(who, csrf)
    try:
        user = find_user(session, email=email)
    except LeadflowError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such user") from None
    if user.id == who.user.id and do in ("disable", "role"):
        return _back("/web/users", "You may not disable or demote yourself.", error=True)
    before = {"role": user.role, "active": user.active}
    password = None
    try:
        if do in ("disable", "enable"):
            accounts.set_active(session, user=user, active=do == "enable")
        elif do == "role":
            accounts.set_role(
                session, user=user, role=role, rep=find_rep(session, ref=rep) if rep else None,
                team=find_team(session, ref=team) if team else None,
            )  # fmt: skip
        elif do == "password":
            password = accounts.one_time_password()
            accounts.set_password(session, user=user, password=password)
        else:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "unknown change")
    except LeadflowError as exc:
        return _back("/web/users", f"{user.email} not changed: {exc}.", error=True)
    record_write(session, actor=who.user.email, action=f"user {do}", entity="user", entity_id=user.email,
                 before=before, after={"role": user.role, "active": user.active,
                                       "password reset": password is not None})  # fmt: skip
    if password:
        return _users_page(request, session, who, message=f"{user.email}'s new password, shown once:",
                           password=password)  # fmt: skip
    return _back("/web/users", f"{user.email}: {do} done.")
