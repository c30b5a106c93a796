"""Alembic environment: runs on the connection leadflow hands it (see leadflow.migrations.admin)."""

from alembic import context

from leadflow.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `leadflow init`, which supplies the connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
