"""Templates and the filters that format numbers the way a sales manager reads them."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Path as FastApiPath
from fastapi import Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from leadflow.models import MAX_ID, User

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
# a row's id in a dashboard URL: a number that can be a row's id (else 422, not a database error)
RowId = Annotated[int, FastApiPath(ge=1, le=MAX_ID)]
LeadId = RowId


def _pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}%}"


def _span(low: float | None, high: float | None) -> str:
    """An interval of two shares, or nothing where it is unknown (no closed leads)."""
    return "" if low is None or high is None else f"{_pct(low)}–{_pct(high)}"


def _num(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _money(value: float | None) -> str:
    return "–" if value is None else f"${value:,.0f}"


def _when(value: datetime | None) -> str:
    return "–" if value is None else value.strftime("%Y-%m-%d %H:%M")


def _duration(value: timedelta | None) -> str:
    """'3 h 20 min', or 'overdue 1 h 5 min' for a negative span."""
    if value is None:
        return "–"
    minutes = int(abs(value.total_seconds()) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    text = f"{days} d {hours} h" if days else (f"{hours} h {mins} min" if hours else f"{mins} min")
    return f"overdue {text}" if value.total_seconds() < 0 else text


templates.env.filters |= {
    "pct": _pct,
    "span": _span,
    "num": _num,
    "money": _money,
    "when": _when,
    "duration": _duration,
}
templates.env.autoescape = True

MANAGER_NAV = [
    ("overview", "Overview"),
    ("reps", "Reps"),
    ("sources", "Sources"),
    ("funnel", "Funnel"),
    ("sla", "SLA queue"),
    ("coaching", "Coaching"),
    ("routing", "Routing"),
    ("partners", "Partners"),
    ("leads", "Leads"),
    ("team", "Team"),
    ("territories", "Territories"),
]
ADMIN_NAV = [*MANAGER_NAV, ("users", "Users")]
REP_NAV = [("my_leads", "My leads")]


def page(
    request: Request, name: str, *, user: User, csrf: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A page of the dashboard with the navigation this user's role has."""
    nav = {"admin": ADMIN_NAV, "manager": MANAGER_NAV}.get(user.role, REP_NAV)
    return templates.TemplateResponse(
        request,
        name,
        {"user": user, "csrf": csrf, "nav": nav, **context},
        status_code=status_code,
    )


def see_other(target: str, **said: str) -> RedirectResponse:
    """After a form: on to ``target`` (a path, perhaps with its query) with ``said`` (a message or
    an error to show there) added to its query string."""
    if said:
        target += ("&" if "?" in target else "?") + urlencode(said)
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
