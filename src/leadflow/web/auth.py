"""Dashboard login: a session cookie holding a token stored hashed (like an API token), and
CSRF protection on every form.

The session cookie is HttpOnly, SameSite=Lax and, behind HTTPS, Secure. Each form carries a
CSRF token derived from the session (an HMAC of it), so a page elsewhere that cannot read the
cookie cannot forge one; the login form, before any session, uses a double-submit cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from leadflow.access.accounts import clear_failures, lockout, record_failure
from leadflow.access.service import authenticate, check_password, end_web_session, start_web_session
from leadflow.deps import SessionDep, SettingsDep, client_address
from leadflow.models import User
from leadflow.web.render import templates

SESSION_COOKIE = "lf_session"
LOGIN_CSRF_COOKIE = "lf_login_csrf"
SESSION_HOURS = 12

router = APIRouter(prefix="/web", include_in_schema=False)


def csrf_for(token: str) -> str:
    """The CSRF token of a session: forms must send it back."""
    return hmac.new(token.encode(), b"leadflow form", hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Visitor:
    """A signed-in user of the dashboard and the CSRF token their forms carry."""

    user: User
    csrf: str


def visitor(request: Request, session: SessionDep) -> Visitor:
    """The signed-in user; a visitor without a valid session is sent to the login page."""
    token = request.cookies.get(SESSION_COOKIE, "")
    user = authenticate(session, token=token, web=True) if token else None
    if user is None or user.role == "intake":
        raise HTTPException(status.HTTP_303_SEE_OTHER, "log in first", headers={"Location": "/web/login"})
    return Visitor(user, csrf_for(token))


def _role(*roles: str) -> Callable[[Visitor], Visitor]:
    def check(who: Annotated[Visitor, Depends(visitor)]) -> Visitor:
        if who.user.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "this page is not for your role")
        return who

    return check


ManagerVisitor = Annotated[Visitor, Depends(_role("admin", "manager"))]
AdminVisitor = Annotated[Visitor, Depends(_role("admin"))]
RepVisitor = Annotated[Visitor, Depends(_role("rep"))]
AnyVisitor = Annotated[Visitor, Depends(visitor)]


async def posted_form(request: Request) -> FormData:
    """The form a page posted, read before the handler and its database work: a handler that
    writes runs on a worker thread, and a slow client's body never keeps the write lock held
    (nor the server's event loop busy with the handler's work)."""
    return await request.form()


# Declared before the session and the visitor, so that the form is read first.
PostedForm = Annotated[FormData, Depends(posted_form)]


def check_csrf(who: Visitor, sent: str) -> None:
    """403 unless the form carried this session's CSRF token."""
    if not hmac.compare_digest(who.csrf, sent):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the form is stale or forged; reload the page")


def home_of(user: User) -> str:
    """Where a user lands after logging in."""
    return "/web/my" if user.role == "rep" else "/web/"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    """The login page."""
    token = secrets.token_urlsafe(24)
    response = templates.TemplateResponse(request, "login.html", {"csrf": token, "error": None})
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/web/login")
    return response


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1000)],
    csrf: Annotated[str, Form(max_length=100)],
) -> Response:
    """Check the password; on success set the session cookie and go to the user's home page."""
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the login form is stale; reload the page")
    account, address = email.strip().lower(), client_address(request)
    refused = lockout(session, email=account, address=address, limits=settings.server)
    if refused:
        context = {"csrf": expected, "error": refused[0].upper() + refused[1:] + ".", "email": email}
        return templates.TemplateResponse(request, "login.html", context, status_code=429)
    user = check_password(session, email=account, password=password)
    if user is None or user.role == "intake":
        record_failure(session, email=account, address=address, what="wrong email or password")
        context = {"csrf": expected, "error": "Wrong email or password.", "email": email}
        return templates.TemplateResponse(request, "login.html", context, status_code=401)
    clear_failures(session, email=account)
    token = start_web_session(session, user=user, hours=SESSION_HOURS)
    response = RedirectResponse(home_of(user), status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        SESSION_COOKIE, token, max_age=SESSION_HOURS * 3600, httponly=True, samesite="lax",
        secure=request.url.scheme == "https", path="/",
    )  # fmt: skip
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/web/login")
    return response


@router.post("/logout")
def logout(
    request: Request, session: SessionDep, who: AnyVisitor, csrf: Annotated[str, Form(max_length=100)]
) -> Response:
    """End the session (its token stops working at once) and go back to the login page."""
    check_csrf(who, csrf)
    end_web_session(session, token=request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/web/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
