"""the first organizer's set-up, and the founding period during which any member may sponsor

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30

A group that already has members has been set up: every step counts as done. A group with none yet starts with
no name, so nothing goes out under a default one, and its first organizer is led through the set-up.
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

ALL_STEPS = 'name,meetings,charter,sponsors'


def upgrade():
    with op.batch_alter_table('settings') as batch_op:
        batch_op.add_column(sa.Column('setup_done', sa.String(length=200), server_default='', nullable=False))
        batch_op.add_column(sa.Column('setup_opened_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('founding_until', sa.Date(), nullable=True))
    op.execute(f"UPDATE settings SET setup_done = '{ALL_STEPS}', setup_opened_at = updated_at "
               "WHERE EXISTS (SELECT 1 FROM member)")
    op.execute("UPDATE settings SET group_name = '' WHERE NOT EXISTS (SELECT 1 FROM member)")


def downgrade():
    op.execute("UPDATE settings SET group_name = 'Thinking Network' WHERE group_name = ''")
    with op.batch_alter_table('settings') as batch_op:
        batch_op.drop_column('founding_until')
        batch_op.drop_column('setup_opened_at')
        batch_op.drop_column('setup_done')
