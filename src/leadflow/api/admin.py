"""Running the team from the app: add and edit reps and teams, set each team's routing, the
territory rules (with a preview), and see the settings' history. Admins do all of it; a manager
does it for their own team (reps, the team's routing); territory rules are the company's, the
admin's. Every change is audited; routing settings become a new settings version."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Response, status
from pydantic import Field
from sqlalchemy.orm import Session

from leadflow.deps import BootstrapDep, SessionDep, SettingsDep, allow, rep_or_404
from leadflow.errors import NotFound
from leadflow.ledger.find import find_team
from leadflow.ledger.settings_versions import settings_history, settings_in_force
from leadflow.models import Rep, SettingsVersion, Team, User
from leadflow.pipeline.reps import add_rep, add_team, update_rep
from leadflow.routing.configure import (
    preview_territory_rules,
    set_rep_routing,
    set_team_routing,
    set_territory_rules,
)
from leadflow.routing.roster import territory_rules
from leadflow.schemas import Input
from leadflow.settings import PolicyName, SegmentName, WorkingHours, settings_to_toml

router = APIRouter(prefix="/v1", tags=["administration"])
Manager = Annotated[User, Depends(allow("admin", "manager"))]
Admin = Annotated[User, Depends(allow("admin"))]


def _version(version: SettingsVersion | None) -> dict[str, Any] | None:
    if version is None:
        return None
    return {"version": version.id, "by": version.changed_by, "at": version.changed_at.isoformat(),
            "note": version.note, "changes": version.changes}  # fmt: skip


def _team_in_reach(session: Session, user: User, name: str) -> Team:
    try:
        team = find_team(session, ref=name)
    except NotFound:
        team = None
    if team is None or (user.role == "manager" and team.id != user.team_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such team")
    return team


class RepIn(Input):
    """A new rep; a manager's reps join the manager's team."""

    external_id: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    team: str | None = Field(default=None, max_length=200)
    territories: list[str] = Field(default_factory=list, max_length=100)
    capacity: int | None = Field(default=None, ge=0, le=1_000_000)
    timezone: str = Field(default="UTC", max_length=64)


class RepChange(Input):
    """What to change of a rep; fields left out stay as they are. ``daily_cap`` and ``weight``
    null clear the rep's own (the team's cap, weight 1 apply)."""

    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    team: str | None = Field(default=None, max_length=200)
    territories: list[str] | None = Field(default=None, max_length=100)
    capacity: int | None = Field(default=None, ge=0, le=1_000_000)
    active: bool | None = None
    timezone: str | None = Field(default=None, max_length=64)
    working_hours: WorkingHours | None = None
    daily_cap: int | None = Field(default=None, ge=1, le=100_000)
    weight: float | None = Field(default=None, gt=0, le=1_000)


def rep_view(session: Session, rep: Rep, settings: Any) -> dict[str, Any]:
    """A rep as the API shows it, with their routing settings."""
    team = session.get(Team, rep.team_id) if rep.team_id else None
    routing = settings.routing
    return {
        "rep": rep.external_id, "name": rep.name, "email": rep.email, "team": team.name if team else None,
        "capacity": rep.capacity, "active": rep.active, "timezone": rep.timezone,
        "working_hours": rep.working_hours, "daily_cap": routing.daily_caps.get(rep.external_id),
        "weight": routing.for_team(team.name if team else None).weight_of(rep.external_id),
    }  # fmt: skip


@router.post("/reps", status_code=status.HTTP_201_CREATED)
def create_rep(new: RepIn, session: SessionDep, settings: SettingsDep, user: Manager) -> dict[str, Any]:
    """Add a rep (admins; a manager adds to their own team)."""
    team = new.team
    if user.role == "manager":
        own = session.get(Team, user.team_id) if user.team_id else None
        if own is None or (team and team.lower() != own.name.lower()):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "a manager adds reps to their own team")
        team = own.name
    rep = add_rep(
        session, external_id=new.external_id, name=new.name, email=new.email, team=team,
        territories=new.territories, capacity=new.capacity, timezone=new.timezone, by=user.email,
    )  # fmt: skip
    return rep_view(session, rep, settings)


@router.patch("/reps/{rep_ref}")
def change_rep(
    rep_ref: str, change: RepChange, session: SessionDep, bootstrap: BootstrapDep, user: Manager
) -> dict[str, Any]:
    """Change a rep (admins; managers for their team, who cannot move a rep to another team),
    audited with the values before and after; a daily cap or weight is a new settings version."""
    rep = rep_or_404(session, user=user, ref=rep_ref)
    given = change.model_fields_set
    if user.role == "manager" and change.team is not None:
        own = session.get(Team, user.team_id)
        if own is None or change.team.lower() != own.name.lower():
            raise HTTPException(status.HTTP_403_FORBIDDEN, "a manager cannot move a rep to another team")
    changed: dict[str, Any] = {
        field: {"before": b, "after": a}
        for field, (b, a) in update_rep(
            session, rep=rep, by=user.email, capacity=change.capacity, active=change.active, name=change.name,
            email=change.email, team=change.team, territories=change.territories, timezone=change.timezone,
            **({"working_hours": change.working_hours} if "working_hours" in given else {}),
        ).items()
    }  # fmt: skip
    routing_changes = {k: getattr(change, k) for k in ("daily_cap", "weight") if k in given}
    version = None
    if routing_changes:
        team = session.get(Team, rep.team_id) if rep.team_id else None
        version = set_rep_routing(session, rep=rep, team=team, bootstrap=bootstrap, by=user.email,
                                  **routing_changes)  # fmt: skip
        if version is not None:
            changed |= {path: {"before": b, "after": a} for path, (b, a) in version.changes.items()}
    return rep_view(session, rep, settings_in_force(session, bootstrap=bootstrap)) | {"changed": changed}


class TeamIn(Input):
    name: str = Field(min_length=1, max_length=200)
    manager: str | None = Field(default=None, max_length=200)


@router.post("/teams", status_code=status.HTTP_201_CREATED)
def create_team(new: TeamIn, session: SessionDep, user: Admin) -> dict[str, Any]:
    """Add a team (admins); it routes by the default policy until its own is set."""
    team = add_team(session, name=new.name, manager=new.manager, by=user.email)
    return {"id": team.id, "name": team.name, "manager": team.manager}


class TeamRoutingChange(Input):
    """What to change of a team's routing; fields left out stay as they are."""

    policy: PolicyName | None = None
    weights: dict[str, float] | None = None
    merit_spread: float | None = Field(default=None, ge=0, lt=1)
    merit_proportional: bool | None = None
    min_share: float | None = Field(default=None, ge=0, le=1)
    exploration_share: float | None = Field(default=None, ge=0, le=1)
    exploration_width: float | None = Field(default=None, gt=0, le=1)
    segment_by: SegmentName | None = None
    daily_cap: int | None = Field(default=None, ge=1, le=100_000)


@router.get("/teams/{team_name}/routing")
def team_routing(team_name: str, session: SessionDep, settings: SettingsDep, user: Manager) -> dict[str, Any]:
    """The team's routing in force (the default when it has none of its own)."""
    team = _team_in_reach(session, user, team_name)
    return {"team": team.name, "own": team.name in settings.routing.teams,
            "routing": settings.routing.for_team(team.name).model_dump(mode="json")}  # fmt: skip


@router.patch("/teams/{team_name}/routing")
def change_team_routing(
    team_name: str, change: TeamRoutingChange, session: SessionDep, bootstrap: BootstrapDep, user: Manager
) -> dict[str, Any]:
    """Change the team's routing (admins; a manager their own team): a new settings version that
    the next lead routed follows, on every server."""
    team = _team_in_reach(session, user, team_name)
    changes = change.model_dump(include=change.model_fields_set)
    version = set_team_routing(session, team=team, changes=changes, bootstrap=bootstrap, by=user.email)
    routing = settings_in_force(session, bootstrap=bootstrap).routing.for_team(team.name)
    return {"team": team.name, "routing": routing.model_dump(mode="json"), "version": _version(version)}


class RulesIn(Input):
    """Territory rules in the order they are tried (see [[routing.territories]] in docs)."""

    rules: list[dict[str, Any]] = Field(max_length=1_000)


@router.get("/routing/territories")
def rules_in_force(session: SessionDep, settings: SettingsDep, user: Manager) -> dict[str, Any]:
    """The territory rules in force, in the order they are tried."""
    rules = territory_rules(session, settings=settings)
    return {"rules": [r.model_dump(mode="json", exclude_defaults=True) for r in rules]}


@router.post("/routing/territories/preview")
def preview_rules(body: RulesIn, session: SessionDep, settings: SettingsDep, user: Manager) -> dict[str, Any]:
    """What these rules would do to the leads waiting to be routed, before saving them."""
    preview = preview_territory_rules(session, settings=settings, rules=body.rules)
    return {"waiting": preview.waiting, "keep_their_territory": preview.kept, "now": dict(preview.now),
            "before": dict(preview.before), "moved": [{"from": a, "to": b, "leads": n}
                                                      for (a, b), n in preview.moved.most_common()],
            "summary": preview.sentences()}  # fmt: skip


@router.put("/routing/territories")
def replace_rules(body: RulesIn, session: SessionDep, bootstrap: BootstrapDep, user: Admin) -> dict[str, Any]:
    """Make these the territory rules (admins): a new settings version."""
    version = set_territory_rules(session, rules=body.rules, bootstrap=bootstrap, by=user.email)
    return {"rules": body.rules, "version": _version(version)}


@router.get("/settings/history")
def history(session: SessionDep, user: Manager, limit: int = 50) -> list[dict[str, Any] | None]:
    """Who changed which setting, when, from what to what; newest first."""
    return [_version(v) for v in settings_history(session, limit=max(1, min(limit, 500)))]


@router.get("/settings", response_class=Response)
def settings_toml(settings: SettingsDep, user: Admin) -> Response:
    """The settings in force as TOML (what `leadflow config export` writes)."""
    return Response(settings_to_toml(settings), media_type="application/toml")
