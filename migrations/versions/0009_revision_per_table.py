"""a revision per table: a change moves on only the numbers of the tables it wrote, so a page cached from
other tables stays

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    # The numbers only name versions of cached pages, which each process keeps in memory: they start again.
    op.drop_table('revision')
    op.create_table('revision',
    sa.Column('table_name', sa.String(length=63), nullable=False),
    sa.Column('number', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('table_name', name=op.f('pk_revision'))
    )


def downgrade():
    op.drop_table('revision')
    table = op.create_table('revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_revision'))
    )
    op.bulk_insert(table, [{'id': 1, 'number': 0}])
