"""Alembic migrations, shipped inside the package so that `leadflow init` finds them when installed."""
