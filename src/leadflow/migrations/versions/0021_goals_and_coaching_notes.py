"""goals on the metrics that drive results, and coaching notes

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 12:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "goals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rep_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("target", sa.Float(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("(rep_id IS NULL) <> (team_id IS NULL)", name=op.f("ck_goals_rep_or_team")),
        sa.CheckConstraint("ends_on > starts_on", name=op.f("ck_goals_period")),
        sa.ForeignKeyConstraint(
            ["rep_id"], ["reps.id"], name=op.f("fk_goals_rep_id_reps"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_goals_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goals")),
    )
    op.create_index(op.f("ix_goals_rep_id"), "goals", ["rep_id"], unique=False)
    op.create_index(op.f("ix_goals_team_id"), "goals", ["team_id"], unique=False)
    op.create_index("ix_goals_period", "goals", ["starts_on", "ends_on"], unique=False)
    op.create_table(
        "coaching_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rep_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("discussed", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=True),
        sa.Column("follow_up_on", sa.Date(), nullable=True),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["rep_id"], ["reps.id"], name=op.f("fk_coaching_notes_rep_id_reps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coaching_notes")),
    )
    op.create_index(op.f("ix_coaching_notes_rep_id"), "coaching_notes", ["rep_id"], unique=False)
    op.create_index(
        "ix_coaching_notes_follow_up", "coaching_notes", ["follow_up_on", "done_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_coaching_notes_follow_up", table_name="coaching_notes")
    op.drop_index(op.f("ix_coaching_notes_rep_id"), table_name="coaching_notes")
    op.drop_table("coaching_notes")
    op.drop_index("ix_goals_period", table_name="goals")
    op.drop_index(op.f("ix_goals_team_id"), table_name="goals")
    op.drop_index(op.f("ix_goals_rep_id"), table_name="goals")
    op.drop_table("goals")
