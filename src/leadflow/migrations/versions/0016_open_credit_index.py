"""index the credit shares in force

Reports by rep or team first ask whether any lead's credit is split (an open credit
assignment). With only an index that starts with the role, whose statistics say one role
covers every row, SQLite scanned all assignments for the answer (0.1 s on a million leads); this
partial index holds the open credit assignments alone, and the credit reports join through it.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_CREDIT = sa.text("role = 'credit' AND ended_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_assignments_open_credit",
        "assignments",
        ["lead_id"],
        unique=False,
        sqlite_where=OPEN_CREDIT,
        postgresql_where=OPEN_CREDIT,
    )


def downgrade() -> None:
    op.drop_index("ix_assignments_open_credit", table_name="assignments")
