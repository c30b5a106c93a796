"""keep with each trained model what it learned from: per attribute value, leads and wins

The profile report reads these instead of every closed lead again.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("score_models", schema=None) as batch_op:
        batch_op.add_column(sa.Column("learned_from", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("score_models", schema=None) as batch_op:
        batch_op.drop_column("learned_from")
