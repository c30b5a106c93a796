"""keep each lead's speed to first touch and days to close as numbers, for the reports' index

The funnel groups leads by whole hours from assignment to first touch, and the time-to-close
curves by whole days from creation to the outcome. On SQLite, where timestamps are ISO text,
each of those differences parsed two strings per lead per report (0.3-0.4 s of a 1.1-1.5 s pass
over a million leads). These two columns hold them as integers:

- ``touch_seconds``: whole seconds (rounded) from ``assigned_at`` to ``first_touch_at``;
- ``closed_days``: whole days from ``created_at`` to ``won_at`` for a won lead, ``lost_at``
  for a lost one.

They are null otherwise. A trigger keeps them up to date on every write, whichever writer makes
it (imports, capture, routing, activities, outcomes), so no code can forget them; on SQLite it
runs only when a row's numbers are wrong (a writer that sets them right costs nothing more).
Both are appended to the reports' covering index.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPORT_COLUMNS = [
    "created_at", "stage", "self_sourced", "owner_id", "source_id", "territory_id", "lead_type",
    "product_id", "assigned_at", "first_touch_at", "won_at", "lost_at", "amount", "win_probability",
]  # fmt: skip
SOURCES = ("created_at", "stage", "assigned_at", "first_touch_at", "won_at", "lost_at")
NUMBERS = ("touch_seconds", "closed_days")


def _sqlite_numbers(row: str) -> tuple[str, str]:
    touch = (
        f"CAST(round((julianday({row}.first_touch_at) - julianday({row}.assigned_at)) * 86400.0) AS INTEGER)"
    )
    closed = (
        f"CAST(julianday(CASE {row}.stage WHEN 'won' THEN {row}.won_at WHEN 'lost' THEN {row}.lost_at END)"
        f" - julianday({row}.created_at) AS INTEGER)"
    )
    return touch, closed


def _postgresql_numbers(row: str) -> tuple[str, str]:
    touch = f"round(extract(epoch FROM {row}.first_touch_at - {row}.assigned_at))::integer"
    closed = (
        f"floor(extract(epoch FROM (CASE {row}.stage WHEN 'won' THEN {row}.won_at"
        f" WHEN 'lost' THEN {row}.lost_at END) - {row}.created_at) / 86400)::integer"
    )
    return touch, closed


# The statements below are built from the constants above only.


def upgrade() -> None:
    for column in NUMBERS:
        op.add_column("leads", sa.Column(column, sa.Integer(), nullable=True))
    if op.get_context().dialect.name == "sqlite":
        touch, closed = _sqlite_numbers("NEW")
        wrong = f"NEW.touch_seconds IS NOT {touch} OR NEW.closed_days IS NOT {closed}"
        fix = f"UPDATE leads SET touch_seconds = {touch}, closed_days = {closed} WHERE id = NEW.id;"  # noqa: S608
        op.execute(f"CREATE TRIGGER leads_numbers_insert AFTER INSERT ON leads WHEN {wrong} BEGIN {fix} END")
        op.execute(
            f"CREATE TRIGGER leads_numbers_update AFTER UPDATE OF {', '.join(SOURCES + NUMBERS)} ON leads"
            f" WHEN {wrong} BEGIN {fix} END"
        )
        touch, closed = _sqlite_numbers("leads")
    else:
        touch, closed = _postgresql_numbers("NEW")
        op.execute(
            "CREATE FUNCTION leads_numbers() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"NEW.touch_seconds := {touch}; NEW.closed_days := {closed}; RETURN NEW; END $$"
        )
        op.execute(
            "CREATE TRIGGER leads_numbers BEFORE INSERT OR UPDATE OF "
            f"{', '.join(SOURCES + NUMBERS)} ON leads FOR EACH ROW EXECUTE FUNCTION leads_numbers()"
        )
        touch, closed = _postgresql_numbers("leads")
    op.execute(
        f"UPDATE leads SET touch_seconds = {touch}, closed_days = {closed}"  # noqa: S608 (constants)
        " WHERE first_touch_at IS NOT NULL OR stage IN ('won', 'lost')"
    )
    op.drop_index("ix_leads_report", table_name="leads")
    op.create_index("ix_leads_report", "leads", [*REPORT_COLUMNS, *NUMBERS], unique=False)


def downgrade() -> None:
    op.drop_index("ix_leads_report", table_name="leads")
    if op.get_context().dialect.name == "sqlite":
        op.execute("DROP TRIGGER leads_numbers_insert")
        op.execute("DROP TRIGGER leads_numbers_update")
    else:
        op.execute("DROP TRIGGER leads_numbers ON leads")
        op.execute("DROP FUNCTION leads_numbers()")
    for column in NUMBERS:
        op.drop_column("leads", column)
    op.create_index("ix_leads_report", "leads", REPORT_COLUMNS, unique=False)
