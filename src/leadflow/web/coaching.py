"""The coaching page: each goal in force against its target, goals and notes set from the page,
and the follow-ups due; a rep sees their own goals on "my leads"."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from leadflow.access.scope import own_team
from leadflow.access.service import record_write
from leadflow.analytics.scorecard import LOWER_IS_BETTER, METRIC_WORDS, RATES, monthly_trend, scorecard
from leadflow.deps import SessionDep, rep_or_404
from leadflow.errors import LeadflowError
from leadflow.models import CoachingNote, Rep, utcnow
from leadflow.pipeline.coaching import add_note, close_follow_up, follow_ups_due, month_of, set_goal
from leadflow.web import charts
from leadflow.web.auth import ManagerVisitor, check_csrf
from leadflow.web.render import RowId, page, see_other

router = APIRouter(prefix="/web", include_in_schema=False)


def _back(text: str, *, error: bool = False) -> Response:
    return see_other("/web/coaching", **{"error" if error else "message": text})


@router.get("/coaching", response_class=HTMLResponse)
def coaching(request: Request, session: SessionDep, who: ManagerVisitor) -> Response:
    """The team's goals against their targets, the follow-ups due, and forms for both."""
    team = own_team(session, user=who.user)
    now = utcnow()
    card = scorecard(session, on=now, team=team).to_dicts()
    reps = session.scalars(
        select(Rep)
        .where(Rep.active.is_(True), *([Rep.team_id == team.id] if team else []))
        .order_by(Rep.name)
    ).all()
    due = follow_ups_due(session, on=now.date(), team_id=team.id if team else None)
    month, until = month_of(now.date())
    chosen = request.query_params.get("rep")
    focus = rep_or_404(session, user=who.user, ref=chosen) if chosen else None
    trend_chart = (
        charts.metric_trends(monthly_trend(session, rep=focus), METRIC_WORDS, focus.name)
        if focus is not None
        else None
    )
    return page(
        request, "coaching.html", user=who.user, csrf=who.csrf, active="coaching", card=card, reps=reps,
        due=due, metrics=METRIC_WORDS, rates=RATES, lower=LOWER_IS_BETTER, since=month,
        until=until, today=now.date(), focus=focus, trend_chart=trend_chart,
        message=request.query_params.get("message"), error=request.query_params.get("error"),
    )  # fmt: skip


@router.post("/coaching/goal")
def post_goal(
    session: SessionDep,
    who: ManagerVisitor,
    csrf: Annotated[str, Form(max_length=100)],
    rep: Annotated[str, Form(max_length=200)],
    metric: Annotated[str, Form(max_length=40)],
    target: Annotated[float, Form(allow_inf_nan=False)],
    since: Annotated[date, Form()],
    until: Annotated[date, Form()],
) -> Response:
    """Set a goal for a rep of the manager's team."""
    check_csrf(who, csrf)
    person = rep_or_404(session, user=who.user, ref=rep)
    try:
        goal = set_goal(
            session,
            metric=metric,
            target=target,
            starts_on=since,
            ends_on=until,
            by=who.user.email,
            rep=person,
        )
    except LeadflowError as exc:
        return _back(f"Not set: {exc}.", error=True)
    record_write(
        session, actor=who.user.email, action="set goal", entity="goal", entity_id=str(goal.id), before=None,
        after={"rep": person.external_id, "metric": metric, "target": target, "from": str(since),
               "until": str(until)},
    )  # fmt: skip
    return _back(f"Goal set: {person.name}, {METRIC_WORDS[metric]} {target:g}.")


@router.post("/coaching/note")
def post_note(
    session: SessionDep,
    who: ManagerVisitor,
    csrf: Annotated[str, Form(max_length=100)],
    rep: Annotated[str, Form(max_length=200)],
    discussed: Annotated[str, Form(max_length=5000)],
    action: Annotated[str, Form(max_length=5000)] = "",
    follow_up: Annotated[date | None, Form()] = None,
) -> Response:
    """Record a coaching session with a rep of the manager's team."""
    check_csrf(who, csrf)
    person = rep_or_404(session, user=who.user, ref=rep)
    try:
        note = add_note(session, rep=person, discussed=discussed, action=action, follow_up_on=follow_up,
                        by=who.user.email)  # fmt: skip
    except LeadflowError as exc:
        return _back(f"Not noted: {exc}.", error=True)
    record_write(
        session, actor=who.user.email, action="coaching note", entity="coaching_note", entity_id=str(note.id),
        before=None, after={"rep": person.external_id, "follow_up_on": str(follow_up) if follow_up else None},
    )  # fmt: skip
    return _back(f"Noted for {person.name}" + (f"; follow up on {follow_up}." if follow_up else "."))


@router.post("/coaching/notes/{note_id}/done")
def post_done(
    note_id: RowId, session: SessionDep, who: ManagerVisitor,
    csrf: Annotated[str, Form(max_length=100)],
) -> Response:  # fmt: skip
    """The follow-up happened: it leaves the queue."""
    check_csrf(who, csrf)
    note = session.get(CoachingNote, note_id)
    rep = session.get(Rep, note.rep_id) if note else None
    if note is None or rep is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such note")
    rep_or_404(session, user=who.user, ref=rep.external_id)
    close_follow_up(session, note=note)
    return _back(f"Followed up with {rep.name}.")
