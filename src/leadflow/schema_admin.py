"""Create or upgrade the database schema with Alembic, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from leadflow.models import Base


def alembic_config() -> Config:
    """Alembic's configuration pointing at the migrations shipped in the package."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("leadflow") / "migrations"))
    return config


def upgrade(engine: Engine) -> str:
    """Bring the schema to the newest revision; return that revision."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    head = ScriptDirectory.from_config(config).get_current_head()
    return head or ""


def drop_all(engine: Engine) -> None:
    """Remove every leadflow table and the migration marker: an empty database."""
    Base.metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
