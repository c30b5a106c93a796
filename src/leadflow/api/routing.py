"""Reps and routing: who is on the team, and routing the queue now (or a dry run)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.encoders import jsonable_encoder
from pydantic import Field
from sqlalchemy.orm import Session

from leadflow.access.scope import own_team
from leadflow.access.service import record_write
from leadflow.deps import SessionDep, SettingsDep, allow
from leadflow.models import User
from leadflow.pipeline.queries import list_reps
from leadflow.routing.engine import route_leads
from leadflow.schemas import Input
from leadflow.settings import PolicyName
from leadflow.simulate.backward import BACKTEST_POLICIES, backtest_policies

router = APIRouter(prefix="/v1", tags=["routing"])
Manager = Annotated[User, Depends(allow("admin", "manager"))]


class RouteIn(Input):
    """A routing run: the queue (or at most ``limit`` of it), by the teams' policies or one."""

    dry_run: bool = False
    policy: PolicyName | None = None
    limit: int | None = Field(default=None, ge=1, le=1_000_000)
    seed: int = Field(default=0, ge=0)


def _scope(session: Session, user: User) -> str | None:
    """The team a routing run or backtest is held to: a manager's own (403 without one); None,
    everyone's, for an admin."""
    if user.role == "admin":
        return None
    team = own_team(session, user=user)
    if team is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "you manage no team")
    return team.name


@router.get("/reps")
def reps(session: SessionDep, user: Manager) -> list[dict[str, Any]]:
    """Reps with team, territories, capacity and leads owned (a manager sees their team)."""
    table = list_reps(session)
    if user.role == "manager":
        team = own_team(session, user=user)
        table = table.filter(table["team"] == (team.name if team else ""))
    rows: list[dict[str, Any]] = jsonable_encoder(table.to_dicts())
    return rows


@router.post("/routing/route")
def route(run: RouteIn, session: SessionDep, settings: SettingsDep, user: Manager) -> dict[str, Any]:
    """Route the queue now, or with ``dry_run`` show the plan and write nothing: each decision
    with its rep (or queue) and why."""
    if user.role != "admin" and run.policy is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only an admin may override every team's policy")
    plan = route_leads(
        session, settings=settings, policy=run.policy, limit=run.limit, dry_run=run.dry_run, seed=run.seed,
        by=user.email, team=_scope(session, user),
    )  # fmt: skip
    decisions = plan.table.select(
        "lead_id", "lead_external_id", "rep_external_id", "queue", "policy", "win_probability", "reason"
    ).to_dicts()
    if not run.dry_run:
        record_write(
            session, actor=user.email, action="route", entity="routing", entity_id=None, before=None,
            after={"assigned": plan.count(None), "reserve": plan.count("reserve"),
                   "unassigned": plan.count("unassigned")},
        )  # fmt: skip
    return {
        "dry_run": run.dry_run,
        "assigned": plan.count(None),
        "reserve": plan.count("reserve"),
        "unassigned": plan.count("unassigned"),
        "decisions": decisions,
    }


class SimulateIn(Input):
    """A backtest: the policies to compare on the leads created in [since, until)."""

    since: datetime
    until: datetime
    policies: list[str] = Field(default_factory=lambda: list(BACKTEST_POLICIES), min_length=1, max_length=4)
    draws: int = Field(default=300, ge=50, le=2000)
    seed: int = Field(default=0, ge=0)


@router.post("/routing/simulate")
def simulate(run: SimulateIn, session: SessionDep, user: Manager) -> dict[str, Any]:
    """What each policy would have won on a past period's closed leads, beside what the actual
    routing won: a model-based (direct method) estimate with 95% intervals; writes nothing."""
    unknown = sorted(set(run.policies) - set(BACKTEST_POLICIES))
    if unknown or run.until <= run.since:
        problem = f"unknown policies {unknown}" if unknown else "until must come after since"
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, problem)
    table = backtest_policies(
        session,
        since=run.since,
        until=run.until,
        policies=tuple(run.policies),
        draws=run.draws,
        seed=run.seed,
    )
    return {"method": "direct (model-based)", "policies": jsonable_encoder(table.to_dicts())}
