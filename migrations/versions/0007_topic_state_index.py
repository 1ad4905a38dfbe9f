"""an index on topics' state and age: the open agenda and recent topics no longer scan every topic ever posted

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

"""
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_topic_state_created_at', 'topic', ['state', 'created_at'], unique=False)


def downgrade():
    op.drop_index('ix_topic_state_created_at', table_name='topic')
