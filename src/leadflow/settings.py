"""Configuration: environment variables and leadflow.toml, every setting with a sensible default.

The database URL comes from the CLI's ``--db``, else ``LEADFLOW_DATABASE_URL``, else a SQLite file
in the working directory. The TOML file comes from ``--config``, else ``LEADFLOW_CONFIG``, else
``./leadflow.toml`` when it exists; a missing file means all defaults.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

DEFAULT_DATABASE_URL = "sqlite:///leadflow.db"


class ConfigError(ValueError):
    """leadflow.toml is unreadable or holds a value that makes no sense."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImportSettings(_Section):
    batch_size: int = Field(default=50_000, ge=100, le=1_000_000)
    max_cell_bytes: int = Field(default=1_000_000, ge=1_000)
    # Day-first formats are tried after month-first ones, so 03/04/2024 reads as March 4th.
    date_formats: list[str] = Field(
        default_factory=lambda: [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%d %H:%M",
            "%Y-%m-%d",
            "%m/%d/%Y %H:%M",
            "%m/%d/%Y",
            "%d.%m.%Y",
            "%d/%m/%Y",
            "%Y/%m/%d",
            "%d %b %Y",
            "%b %d, %Y",
        ]
    )


class Settings(_Section):
    """Everything leadflow.toml can say; later sections (profile, routing, SLA) join here."""

    imports: ImportSettings = Field(default_factory=ImportSettings)


def database_url(explicit: str | None = None) -> str:
    """The database to use: the explicit URL, else the environment, else the default file."""
    return explicit or os.environ.get("LEADFLOW_DATABASE_URL") or DEFAULT_DATABASE_URL


def load_settings(path: str | Path | None = None) -> Settings:
    """Read leadflow.toml (explicit path, LEADFLOW_CONFIG, or ./leadflow.toml) into Settings."""
    explicit = path or os.environ.get("LEADFLOW_CONFIG")
    candidate = Path(explicit) if explicit else Path("leadflow.toml")
    if not candidate.exists():
        if explicit:
            raise ConfigError(f"{candidate}: configuration file not found")
        return Settings()
    try:
        data = tomllib.loads(candidate.read_text(encoding="utf-8"))
        return Settings.model_validate(data)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{candidate}: not valid TOML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"{candidate}: {problems}") from exc
