"""drop indexes nothing reads: leads by company, source and territory alone (reports read those
columns from ix_leads_report), and each rep's assignments by date (capacity comes from rep_load)

Every import, capture and routing write paid for them.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-22 22:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DROPPED = {
    "leads": [
        ("ix_leads_company_id", ["company_id"]),
        ("ix_leads_source_id", ["source_id"]),
        ("ix_leads_territory_id", ["territory_id"]),
    ],
    "assignments": [("ix_assignments_rep_role_at", ["rep_id", "role", "at"])],
}


def upgrade() -> None:
    for table, indexes in DROPPED.items():
        for name, _columns in indexes:
            op.drop_index(name, table_name=table)


def downgrade() -> None:
    for table, indexes in DROPPED.items():
        for name, columns in indexes:
            op.create_index(name, table, columns, unique=False)
