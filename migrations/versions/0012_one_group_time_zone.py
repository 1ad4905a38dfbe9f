"""one time zone for the group: a series set up in another zone than the group's makes it the group's

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30

The series' sessions were scheduled at their wall-clock time in the series' zone, so that zone is when the group
meets: every page, email and calendar now uses it.
"""
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.execute(
        "UPDATE settings SET timezone = (SELECT series.timezone FROM series WHERE series.active "
        "ORDER BY series.id LIMIT 1) "
        "WHERE EXISTS (SELECT 1 FROM series WHERE series.active AND series.timezone <> settings.timezone)"
    )
    op.execute("UPDATE series SET timezone = (SELECT settings.timezone FROM settings ORDER BY settings.id LIMIT 1)")


def downgrade():
    pass  # the zones were one before; nothing to undo
