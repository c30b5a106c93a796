"""The reps and teams themselves: adding a rep or a team, and changing a rep's name, email, team,
territories, capacity, time zone, working hours or whether they take leads at all. Each change
is kept in the audit log with who made it and the values before and after."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from leadflow.access.service import record_write
from leadflow.errors import InvalidChange
from leadflow.ledger.find import by_name
from leadflow.ledger.keys import name_key
from leadflow.models import Rep, Team, Territory, rep_territories
from leadflow.settings import WorkingHours

_UNSET: Any = object()


def _team(session: Session, name: str | None) -> Team | None:
    if not name:
        return None
    team: Team | None = by_name(session, Team, name)
    if team is None:
        known = ", ".join(session.scalars(select(Team.name).order_by(Team.name))) or "none yet"
        raise InvalidChange(f"there is no team {name!r} (teams: {known}); add it first")
    return team


def _territories(session: Session, names: list[str]) -> list[Territory]:
    """The territories by name, any case and spacing; one not known yet is added (as an import does)."""
    found: dict[str, Territory] = {}
    for name in names:
        key = name_key(name)
        if not key or key in found:
            continue
        territory = session.scalars(select(Territory).where(Territory.key == key)).first()
        if territory is None:
            territory = Territory(name=" ".join(name.split()), key=key)
            session.add(territory)
        found[key] = territory
    return list(found.values())


def _check(*, email: str | None, timezone: str | None, capacity: int | None) -> None:
    if capacity is not None and capacity < 0:
        raise InvalidChange(f"a capacity is a number of leads a month, 0 or more (got {capacity})")
    if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise InvalidChange(f"{email!r} is not an email address")
    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidChange(f"{timezone!r} is not a time zone (e.g. Europe/Berlin)") from exc


def _shown(rep: Rep, session: Session) -> dict[str, Any]:
    team = session.get(Team, rep.team_id) if rep.team_id else None
    territories = session.scalars(
        select(Territory.name)
        .join(rep_territories, rep_territories.c.territory_id == Territory.id)
        .where(rep_territories.c.rep_id == rep.id)
        .order_by(Territory.name)
    ).all()
    return {
        "name": rep.name, "email": rep.email, "team": team.name if team else None,
        "territories": list(territories), "capacity": rep.capacity, "active": rep.active,
        "timezone": rep.timezone, "working_hours": rep.working_hours,
    }  # fmt: skip


def add_rep(
    session: Session,
    *,
    external_id: str,
    name: str,
    by: str,
    email: str | None = None,
    team: str | None = None,
    territories: list[str] | None = None,
    capacity: int | None = None,
    timezone: str = "UTC",
) -> Rep:
    """Add a rep, active, on the team and territories named (the team must exist)."""
    external_id, name = external_id.strip(), " ".join(name.split())
    if not external_id or not name:
        raise InvalidChange("a rep needs an id and a name")
    if session.scalars(select(Rep.id).where(Rep.external_id == external_id)).first() is not None:
        raise InvalidChange(f"there is already a rep {external_id!r}")
    if email and session.scalars(select(Rep.id).where(Rep.email == email.lower())).first() is not None:
        raise InvalidChange(f"another rep has the email {email}")
    _check(email=email, timezone=timezone, capacity=capacity)
    found = _team(session, team)
    rep = Rep(
        external_id=external_id, name=name, name_key=name_key(name) or name.lower(),
        email=email.lower() if email else None,
        team_id=found.id if found else None, manager=found.manager if found else None, capacity=capacity,
        active=True, timezone=timezone, territories=_territories(session, territories or []),
    )  # fmt: skip
    session.add(rep)
    session.flush()
    record_write(session, actor=by, action="add rep", entity="rep", entity_id=external_id,
                 before=None, after=_shown(rep, session))  # fmt: skip
    return rep


def update_rep(
    session: Session,
    *,
    rep: Rep,
    by: str,
    capacity: int | None = None,
    active: bool | None = None,
    name: str | None = None,
    email: str | None = None,
    team: str | None = None,
    territories: list[str] | None = None,
    timezone: str | None = None,
    working_hours: WorkingHours | None = _UNSET,
) -> dict[str, tuple[Any, Any]]:
    """Change what is given of a rep; return what changed as (before, after). An inactive rep
    gets no new leads; the leads they hold stay theirs until reassigned. ``working_hours`` None
    means the SLA's hours (sla.working_hours)."""
    _check(email=email, timezone=timezone, capacity=capacity)
    if email and session.scalars(select(Rep.id).where(Rep.email == email.lower(), Rep.id != rep.id)).first():
        raise InvalidChange(f"another rep has the email {email}")
    before = _shown(rep, session)
    if name is not None and " ".join(name.split()):
        rep.name = " ".join(name.split())
        rep.name_key = name_key(rep.name) or rep.name.lower()
    if email is not None:
        rep.email = email.lower() or None
    if team is not None:
        found = _team(session, team)
        rep.team_id = found.id if found else None
    if territories is not None:
        wanted = _territories(session, territories)
        session.flush()
        session.execute(delete(rep_territories).where(rep_territories.c.rep_id == rep.id))
        if wanted:
            session.execute(
                insert(rep_territories), [{"rep_id": rep.id, "territory_id": t.id} for t in wanted]
            )
    for field, value in (("capacity", capacity), ("active", active), ("timezone", timezone)):
        if value is not None:
            setattr(rep, field, value)
    if working_hours is not _UNSET:
        rep.working_hours = working_hours.model_dump() if working_hours is not None else None
    session.flush()
    after = _shown(rep, session)
    changed = {field: (before[field], after[field]) for field in before if before[field] != after[field]}
    if changed:
        record_write(
            session, actor=by, action="update rep", entity="rep", entity_id=rep.external_id,
            before={f: b for f, (b, _a) in changed.items()}, after={f: a for f, (_b, a) in changed.items()},
        )  # fmt: skip
    return changed


def add_team(session: Session, *, name: str, by: str, manager: str | None = None) -> Team:
    """Add a team (routed by the default policy until its own is set)."""
    name = " ".join(name.split())
    if not name:
        raise InvalidChange("a team needs a name")
    if by_name(session, Team, name) is not None:
        raise InvalidChange(f"there is already a team {name!r}")
    team = Team(name=name, manager=manager)
    session.add(team)
    session.flush()
    record_write(session, actor=by, action="add team", entity="team", entity_id=name,
                 before=None, after={"name": name, "manager": manager})  # fmt: skip
    return team
