"""report indexes: a covering index of the columns reports group and count by, replacing the
index on created_at alone (its first column); stage changes by target stage

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 14:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = [
    "created_at", "stage", "self_sourced", "owner_id", "source_id", "territory_id", "lead_type",
    "product_id", "assigned_at", "first_touch_at", "won_at", "lost_at", "amount", "win_probability",
]  # fmt: skip


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_created_at")
        batch_op.create_index("ix_leads_report", COLUMNS, unique=False)
    with op.batch_alter_table("stage_changes", schema=None) as batch_op:
        batch_op.create_index("ix_stage_changes_to_stage_lead", ["to_stage", "lead_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stage_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_stage_changes_to_stage_lead")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_report")
        batch_op.create_index("ix_leads_created_at", ["created_at"], unique=False)
