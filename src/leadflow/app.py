"""The running service: the API (OpenAPI at /docs), the dashboard (/web), health and readiness,
and the periodic upkeep."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from psycopg import DataError as DriverDataError
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadflow.api import admin, coaching, directory, leads, notifications, partners, reports, routing, users
from leadflow.db import make_engine
from leadflow.deps import SessionDep
from leadflow.errors import LeadflowError
from leadflow.intake.rejects import shorten
from leadflow.serve.capture_worker import CaptureWorker
from leadflow.serve.capturing import capture_in_own_transaction
from leadflow.serve.group_commit import GroupCommit
from leadflow.serve.heap import freeze_startup_heap
from leadflow.serve.periodic import deliver_forever, upkeep_forever
from leadflow.settings import Settings, database_url, load_settings
from leadflow.web import admin as admin_pages
from leadflow.web import assets, auth, pages, records, work
from leadflow.web import coaching as coaching_pages
from leadflow.web import partners as partner_pages
from leadflow.web.render import templates

# Pages may load scripts and styles from this server only; Plotly's figures are inline scripts.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
requests_log = logging.getLogger("leadflow.http")
TITLES = {
    401: "Please log in",
    403: "Not for your role",
    404: "Not found",
    409: "Already done",
    422: "Not valid",
}


class LogAndSecure:
    """Log each request (method, path, status, milliseconds), refuse a body over the limit with
    413 before reading it, and give every response its security headers; plain ASGI, so that it
    adds no task or stream per request."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method, path = scope["method"], scope["path"]
        status_code = 500  # unless a response starts

        async def send_secured(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                if path.startswith("/web"):
                    headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
                    headers["Referrer-Policy"] = "same-origin"
                elif path.startswith("/v1"):
                    headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
                    headers["Cache-Control"] = "no-store"
                    headers["Referrer-Policy"] = "no-referrer"
            await send(message)

        try:
            body = await self._within_limit(scope, receive)
            if body is None:
                await send_secured({"type": "http.response.start", "status": 413,
                                    "headers": [(b"content-type", b"application/json")]})  # fmt: skip
                detail = f'{{"detail":"the body is larger than {self.max_body_bytes:,} bytes"}}'
                await send_secured({"type": "http.response.body", "body": detail.encode()})
                return
            await self.app(scope, body, send_secured)
        finally:
            took = round((time.perf_counter() - started) * 1000, 1)
            fields = {"method": method, "path": path, "status": status_code, "ms": took}
            requests_log.info("%s %s %d", method, path, status_code, extra=fields)

    async def _within_limit(self, scope: Scope, receive: Receive) -> Receive | None:
        """``receive`` for the app, or None when the body is over the limit: said by its
        Content-Length, else found by reading it (a chunked body) into memory up to the limit."""
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            return receive if declared.isdigit() and int(declared) <= self.max_body_bytes else None
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            return receive
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body_bytes:
                return None
            if not message.get("more_body", False):
                break
        replayed = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay() -> Message:
            return replayed.pop() if replayed else await receive()

        return replay


EXCERPT_CHARS = 80


def printable(value: Any) -> str | int:
    """A value fit to show in an error: an int as it is, anything else as text of at most
    EXCERPT_CHARS characters that UTF-8 and JSON can carry."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return shorten(value if isinstance(value, str) else repr(value), limit=EXCERPT_CHARS)


def create_app(
    *, engine: Engine, settings: Settings, upkeep: bool = False, capture_worker: bool = False
) -> FastAPI:
    """An app over this database and configuration; with ``upkeep``, it also runs the SLA
    sweep, nurture re-entry and the reserve every ``sla.sweep_every_minutes``, and sends due
    notifications every ``notify.deliver_every_seconds``; with ``capture_worker``, posted leads
    are captured in a process of its own (capture_worker.py), as `leadflow serve` does."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = None
        if capture_worker:
            worker = CaptureWorker(engine.url.render_as_string(hide_password=False), settings)
            await asyncio.to_thread(worker.warm_up)
            # the child captures one batch while the next waits in its queue (group_commit.py)
            app.state.capturer = GroupCommit(worker.process, depth=2)
        tasks = []
        every = settings.sla.sweep_every_minutes * 60
        if upkeep and every:
            tasks.append(asyncio.create_task(upkeep_forever(engine, settings, every)))
        if upkeep and settings.notify.enabled and settings.notify.deliver_every_seconds:
            every = settings.notify.deliver_every_seconds
            tasks.append(asyncio.create_task(deliver_forever(engine, settings, every)))
        if capture_worker or upkeep:  # `leadflow serve`: a long-lived process under load
            freeze_startup_heap()
        yield
        for task in tasks:
            task.cancel()
        if worker is not None:
            await asyncio.to_thread(worker.close)

    app = FastAPI(
        lifespan=lifespan,
        title="leadflow",
        summary="Capture, score, route, work and measure B2B sales leads.",
        version="0.1.0",
    )
    app.state.engine = engine
    app.state.settings = settings
    app.state.capturer = GroupCommit(partial(capture_in_own_transaction, engine, settings))
    api_routers = (leads, reports, partners, routing, admin, directory, coaching, notifications, users)
    for router in (module.router for module in api_routers):
        app.include_router(router)
    web_routers = (auth, pages, records, work, coaching_pages, admin_pages, partner_pages, assets)
    for router in (module.router for module in web_routers):
        app.include_router(router)

    app.add_middleware(LogAndSecure, max_body_bytes=settings.server.max_body_bytes)

    @app.exception_handler(StarletteHTTPException)
    async def page_or_json(request: Request, exc: StarletteHTTPException) -> Response:
        """Dashboard errors as a page (a redirect stays a redirect); API errors as JSON."""
        if not request.url.path.startswith("/web") or exc.status_code < 400:
            return await http_exception_handler(request, exc)
        return templates.TemplateResponse(
            request,
            "error.html",
            {"user": None, "nav": [], "csrf": "", "status_code": exc.status_code, "home": "/web/",
             "title": TITLES.get(exc.status_code, "Something went wrong"), "detail": exc.detail},
            status_code=exc.status_code,
        )  # fmt: skip

    async def nul_in_text(request: Request, exc: Exception) -> Response:
        """PostgreSQL cannot store a NUL character in text, and its driver refuses one in any
        value (a path, a query, a header, a body): that is the request's fault, so a 422 (the
        transaction has rolled back), not a 500. Any other data error stays a server error."""
        if "cannot contain NUL" not in str(exc):
            raise exc
        detail = "text cannot contain the NUL character (\\u0000)"
        return await page_or_json(request, HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail))

    async def invalid(request: Request, exc: Exception) -> Response:
        """A request that fails validation: each problem with where it is and a short, printable
        excerpt of the value (never the whole input echoed back, which may be megabytes, NaN or a
        lone surrogate that JSON cannot carry)."""
        problems: list[dict[str, Any]] = list(getattr(exc, "errors", list)())
        detail = [
            {
                "loc": [printable(part) for part in problem.get("loc", ())],
                "msg": printable(problem.get("msg", "")),
                "type": problem.get("type", ""),
                "input": printable(problem.get("input")),
            }
            for problem in problems[:20]
        ]
        return await page_or_json(request, HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail))

    app.add_exception_handler(RequestValidationError, invalid)

    async def refused(request: Request, exc: Exception) -> Response:
        """A service's refusal (LeadflowError: not found, not allowed, bad input) answers with the
        status it carries and its message, as JSON or a page: views need no try/except for it."""
        code = getattr(exc, "status_code", status.HTTP_422_UNPROCESSABLE_CONTENT)
        return await page_or_json(request, HTTPException(code, str(exc)))

    app.add_exception_handler(LeadflowError, refused)
    app.add_exception_handler(DataError, nul_in_text)
    app.add_exception_handler(DriverDataError, nul_in_text)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/web/")

    @app.get("/healthz", tags=["service"])
    def health() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["service"])
    def ready(session: SessionDep) -> dict[str, str]:
        """The database answers."""
        try:
            session.execute(text("SELECT 1"))
        except Exception as exc:  # any failure of the database means not ready
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "database unavailable") from exc
        return {"status": "ready"}

    return app


def create_app_from_environment() -> FastAPI:
    """The app each of uvicorn's worker processes builds (``factory=True``): database and
    configuration from the environment (LEADFLOW_DATABASE_URL, LEADFLOW_CONFIG), as `leadflow serve`
    sets them."""
    return create_app(
        engine=make_engine(database_url()), settings=load_settings(), upkeep=True, capture_worker=True
    )
