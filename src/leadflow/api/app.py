"""The FastAPI application: routers, health and readiness, OpenAPI at /docs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, status
from sqlalchemy import text
from sqlalchemy.engine import Engine

from leadflow.api import leads, reports, routing
from leadflow.api.deps import SessionDep
from leadflow.api.periodic import upkeep_forever
from leadflow.settings import Settings


def create_app(*, engine: Engine, settings: Settings, upkeep: bool = False) -> FastAPI:
    """An app over this database and configuration; with ``upkeep``, it also runs the SLA
    sweep, nurture re-entry and the reserve every ``sla.sweep_every_minutes``."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        every = settings.sla.sweep_every_minutes * 60
        task = asyncio.create_task(upkeep_forever(engine, settings, every)) if upkeep and every else None
        yield
        if task is not None:
            task.cancel()

    app = FastAPI(
        lifespan=lifespan,
        title="leadflow",
        summary="Capture, score, route, work and measure B2B sales leads.",
        version="0.1.0",
    )
    app.state.engine = engine
    app.state.settings = settings
    app.include_router(leads.router)
    app.include_router(reports.router)
    app.include_router(routing.router)

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
