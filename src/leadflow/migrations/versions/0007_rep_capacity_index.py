"""rep capacity index: (rep_id, role, at) so that one rep's owner assignments this period are a
range in the index

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 14:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_assignments_rep_at")
        batch_op.create_index("ix_assignments_rep_role_at", ["rep_id", "role", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_assignments_rep_role_at")
        batch_op.create_index("ix_assignments_rep_at", ["rep_id", "at"], unique=False)
