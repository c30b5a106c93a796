"""keep on each lead whether it was ever an opportunity, for the reports' index

The funnel and the source report count opportunities: leads that are opportunities now or won,
and leads that were opportunities once (lost from there, back in nurture). The last kind lives
only in the stage changes, so each of those reports joined the stage changes to the leads in a
query of its own (0.2-0.3 s on a million leads on SQLite, whether or not any such lead exists).

``was_opportunity`` holds it on the lead: true once any stage change took the lead to
``opportunity``. A trigger on the stage changes sets it, whichever writer adds the change
(the pipeline's stage service, imports, routing, the demo); stage changes are never updated or
deleted, so it never has to be cleared. It is appended to the reports' covering index, and the
stage changes' (to_stage, lead_id) index, which served only that join, is dropped.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPORT_COLUMNS = [
    "created_at", "stage", "self_sourced", "owner_id", "source_id", "territory_id", "lead_type",
    "product_id", "assigned_at", "first_touch_at", "won_at", "lost_at", "amount", "win_probability",
    "touch_seconds", "closed_days",
]  # fmt: skip
# only a lead not yet marked is written: a writer that marked it already costs one lookup
MARK = "UPDATE leads SET was_opportunity = true WHERE id = NEW.lead_id AND NOT was_opportunity;"


def upgrade() -> None:
    op.add_column(
        "leads", sa.Column("was_opportunity", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    if op.get_context().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER stage_changes_opportunity AFTER INSERT ON stage_changes"
            f" WHEN NEW.to_stage = 'opportunity' BEGIN {MARK} END"
        )
    else:
        op.execute(
            "CREATE FUNCTION stage_changes_opportunity() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"{MARK} RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER stage_changes_opportunity AFTER INSERT ON stage_changes FOR EACH ROW"
            " WHEN (NEW.to_stage = 'opportunity') EXECUTE FUNCTION stage_changes_opportunity()"
        )
    op.execute(
        "UPDATE leads SET was_opportunity = true WHERE id IN"
        " (SELECT lead_id FROM stage_changes WHERE to_stage = 'opportunity')"
    )
    op.drop_index("ix_stage_changes_to_stage_lead", table_name="stage_changes")
    op.drop_index("ix_leads_report", table_name="leads")
    op.create_index("ix_leads_report", "leads", [*REPORT_COLUMNS, "was_opportunity"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_leads_report", table_name="leads")
    op.create_index("ix_leads_report", "leads", REPORT_COLUMNS, unique=False)
    op.create_index("ix_stage_changes_to_stage_lead", "stage_changes", ["to_stage", "lead_id"], unique=False)
    if op.get_context().dialect.name == "sqlite":
        op.execute("DROP TRIGGER stage_changes_opportunity")
    else:
        op.execute("DROP TRIGGER stage_changes_opportunity ON stage_changes")
        op.execute("DROP FUNCTION stage_changes_opportunity()")
    op.drop_column("leads", "was_opportunity")
