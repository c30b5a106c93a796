"""Goals, the scorecard and coaching notes: admins for everyone, managers for their team; a rep
sees their own scorecard and notes."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.encoders import jsonable_encoder
from pydantic import Field

from leadflow.access.scope import own_team
from leadflow.analytics.scorecard import scorecard
from leadflow.deps import SessionDep, allow, rep_or_404
from leadflow.ledger.find import find_team
from leadflow.models import GOAL_METRICS, Rep, Team, User, utcnow
from leadflow.pipeline.coaching import add_note, follow_ups_due, notes_of, set_goal
from leadflow.schemas import Input

router = APIRouter(prefix="/v1", tags=["coaching"])
Coach = Annotated[User, Depends(allow("admin", "manager"))]
Anyone = Annotated[User, Depends(allow("admin", "manager", "rep"))]


class GoalIn(Input):
    """A target for one rep (or one team) on one metric over [starts_on, ends_on)."""

    rep: str | None = Field(default=None, max_length=200)
    team: str | None = Field(default=None, max_length=200)
    metric: str = Field(description=", ".join(GOAL_METRICS), max_length=40)
    target: float
    starts_on: date
    ends_on: date


class NoteIn(Input):
    """A coaching session: what was discussed, the action agreed, when to follow up."""

    discussed: str = Field(min_length=1, max_length=5000)
    action: str | None = Field(default=None, max_length=5000)
    follow_up_on: date | None = None


def _team_in_reach(session: SessionDep, user: User, name: str) -> Team:
    team = find_team(session, ref=name)
    mine = own_team(session, user=user)
    if user.role != "admin" and (mine is None or mine.id != team.id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such team")
    return team


@router.post("/goals", status_code=status.HTTP_201_CREATED)
def create_goal(goal: GoalIn, session: SessionDep, user: Coach) -> dict[str, Any]:
    """Set a goal for a rep or team in reach (the same goal again replaces its target)."""
    if (goal.rep is None) == (goal.team is None):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "name a rep or a team")
    rep = rep_or_404(session, user=user, ref=goal.rep) if goal.rep else None
    team = _team_in_reach(session, user, goal.team) if goal.team else None
    made = set_goal(
        session, metric=goal.metric, target=goal.target, starts_on=goal.starts_on, ends_on=goal.ends_on,
        by=user.email, rep=rep, team=team,
    )  # fmt: skip
    return {"id": made.id, "metric": made.metric, "target": made.target, "starts_on": made.starts_on,
            "ends_on": made.ends_on}  # fmt: skip


@router.get("/scorecard")
def get_scorecard(session: SessionDep, user: Anyone, rep: str | None = None) -> list[dict[str, Any]]:
    """Each goal in force with its actual, interval, projection and whether on track: a rep's
    own, a manager's team's (or one rep of it), everyone's for an admin."""
    team = own_team(session, user=user)
    who: Rep | None = None
    if user.role == "rep":
        who = session.get(Rep, user.rep_id) if user.rep_id else None
        if who is None:
            return []
    elif rep is not None:
        who = rep_or_404(session, user=user, ref=rep)
    card = scorecard(session, on=utcnow(), team=team if who is None else None, rep=who)
    return jsonable_encoder(card.to_dicts())


@router.post("/reps/{rep_ref}/notes", status_code=status.HTTP_201_CREATED)
def create_note(rep_ref: str, note: NoteIn, session: SessionDep, user: Coach) -> dict[str, Any]:
    """Record a coaching session with a rep of the caller's reach."""
    rep = rep_or_404(session, user=user, ref=rep_ref)
    made = add_note(
        session, rep=rep, discussed=note.discussed, action=note.action, follow_up_on=note.follow_up_on,
        by=user.email,
    )  # fmt: skip
    return _note(made)


@router.get("/reps/{rep_ref}/notes")
def list_notes(rep_ref: str, session: SessionDep, user: Anyone) -> list[dict[str, Any]]:
    """A rep's coaching notes, newest first (a rep sees their own)."""
    rep = rep_or_404(session, user=user, ref=rep_ref, themself=True)
    return [_note(n) for n in notes_of(session, rep=rep)]


@router.get("/notes/due")
def notes_due(session: SessionDep, user: Coach) -> list[dict[str, Any]]:
    """The coaching queue: follow-ups due today or overdue (a manager's team's)."""
    team = own_team(session, user=user)
    due = follow_ups_due(session, on=utcnow().date(), team_id=team.id if team else None)
    return [{**_note(n), "rep": r.external_id} for n, r in due]


def _note(note: Any) -> dict[str, Any]:
    return jsonable_encoder(
        {
            "id": note.id,
            "at": note.at,
            "by": note.author,
            "discussed": note.discussed,
            "action": note.action,
            "follow_up_on": note.follow_up_on,
            "done_at": note.done_at,
        }
    )
