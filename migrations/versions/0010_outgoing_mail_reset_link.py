"""the reset link a queued message carries, on databases made while migration 0008 did not yet have it

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30

Migration 0008 was edited after it was first written, to add outgoing_mail.password_reset_id; a database made
by the first version is stamped 0008 without the column. This adds it where it is missing and does nothing
where it is there. A migration that has been run anywhere is never edited again: a change is a new one.
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    columns = {column['name'] for column in sa.inspect(op.get_bind()).get_columns('outgoing_mail')}
    if 'password_reset_id' in columns:
        return
    with op.batch_alter_table('outgoing_mail', schema=None) as batch_op:
        batch_op.add_column(sa.Column('password_reset_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_outgoing_mail_password_reset_id_password_reset'), 'password_reset',
                                    ['password_reset_id'], ['id'], ondelete='CASCADE')
        batch_op.create_index(batch_op.f('ix_outgoing_mail_password_reset_id'), ['password_reset_id'], unique=False)


def downgrade():
    pass  # the column belongs to 0008 as it stands; going below 0010 leaves it
