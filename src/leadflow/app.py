"""The running service: the API (OpenAPI at /docs), the dashboard (/web), health and readiness,
and the periodic upkeep."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI, HTTPException, Request, Response, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse
from sqlalchemy import text
from sqlalchemy.engine import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from leadflow.api import directory, leads, notifications, reports, routing
from leadflow.api.capturing import capture_in_own_transaction
from leadflow.api.deps import SessionDep
from leadflow.api.group_commit import GroupCommit
from leadflow.api.periodic import deliver_forever, upkeep_forever
from leadflow.settings import Settings
from leadflow.web import assets, auth, pages, work
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


def create_app(*, engine: Engine, settings: Settings, upkeep: bool = False) -> FastAPI:
    """An app over this database and configuration; with ``upkeep``, it also runs the SLA
    sweep, nurture re-entry and the reserve every ``sla.sweep_every_minutes``, and sends due
    notifications every ``notify.deliver_every_seconds``."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        tasks = []
        every = settings.sla.sweep_every_minutes * 60
        if upkeep and every:
            tasks.append(asyncio.create_task(upkeep_forever(engine, settings, every)))
        if upkeep and settings.notify.enabled and settings.notify.deliver_every_seconds:
            every = settings.notify.deliver_every_seconds
            tasks.append(asyncio.create_task(deliver_forever(engine, settings, every)))
        yield
        for task in tasks:
            task.cancel()

    app = FastAPI(
        lifespan=lifespan,
        title="leadflow",
        summary="Capture, score, route, work and measure B2B sales leads.",
        version="0.1.0",
    )
    app.state.engine = engine
    app.state.settings = settings
    app.state.capturer = GroupCommit(partial(capture_in_own_transaction, engine, settings))
    for router in (leads.router, reports.router, routing.router, directory.router, notifications.router):
        app.include_router(router)
    for router in (auth.router, pages.router, work.router, assets.router):
        app.include_router(router)

    @app.middleware("http")
    async def log_and_secure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        took = round((time.perf_counter() - started) * 1000, 1)
        fields = {
            "method": request.method,
            "path": request.url.path,
            "status": response.status_code,
            "ms": took,
        }
        requests_log.info("%s %s %d", request.method, request.url.path, response.status_code, extra=fields)
        if request.url.path.startswith("/web"):
            response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Referrer-Policy"] = "same-origin"
        return response

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
