"""The FastAPI application: routers, health and readiness, OpenAPI at /docs."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, status
from sqlalchemy import text
from sqlalchemy.engine import Engine

from leadflow.api import leads, reports
from leadflow.api.deps import SessionDep
from leadflow.settings import Settings


def create_app(*, engine: Engine, settings: Settings) -> FastAPI:
    """An app over this database and configuration."""
    app = FastAPI(
        title="leadflow",
        summary="Capture, score, route, work and measure B2B sales leads.",
        version="0.1.0",
    )
    app.state.engine = engine
    app.state.settings = settings
    app.include_router(leads.router)
    app.include_router(reports.router)

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
