"""The app uvicorn's worker processes import: database and configuration from the environment
(LEADFLOW_DATABASE_URL, LEADFLOW_CONFIG), as `leadflow serve` sets them."""

from __future__ import annotations

from leadflow.app import create_app
from leadflow.db import make_engine
from leadflow.settings import database_url, load_settings

app = create_app(
    engine=make_engine(database_url()), settings=load_settings(), upkeep=True, capture_worker=True
)
