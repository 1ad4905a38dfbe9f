"""calendar invites and feed: invite deliveries, meeting.updated_at, feed choice and version

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('invite_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('pending', 'sending', 'sent', 'failed', name='deliverystate', native_enum=False, length=20), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_invite_delivery_meeting_id_meeting'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_invite_delivery_member_id_member'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invite_delivery'))
    )
    with op.batch_alter_table('invite_delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invite_delivery_meeting_id'), ['meeting_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invite_delivery_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invite_delivery_state'), ['state'], unique=False)

    # SQLite cannot add a column whose default is not a constant: add it empty, fill it, then require it.
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.add_column(sa.Column('invites_sent_sequence', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE meeting SET updated_at = created_at")
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.alter_column('updated_at', existing_type=sa.DateTime(timezone=True), nullable=False)

    # Recreating member on SQLite would drop the expression index on lower(email): drop and rebuild it around.
    op.drop_index('uq_member_email_lower', table_name='member')
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.add_column(sa.Column('wants_calendar_feed', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('calendar_feed_version', sa.Integer(), server_default='0', nullable=False))
        batch_op.drop_constraint(batch_op.f('uq_member_calendar_token_hash'), type_='unique')
        batch_op.drop_column('calendar_token_hash')
    op.create_index('uq_member_email_lower', 'member', [sa.text('lower(email)')], unique=True)


def downgrade():
    op.drop_index('uq_member_email_lower', table_name='member')
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.add_column(sa.Column('calendar_token_hash', sa.VARCHAR(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_member_calendar_token_hash'), ['calendar_token_hash'])
        batch_op.drop_column('calendar_feed_version')
        batch_op.drop_column('wants_calendar_feed')
    op.create_index('uq_member_email_lower', 'member', [sa.text('lower(email)')], unique=True)

    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.drop_column('updated_at')
        batch_op.drop_column('invites_sent_sequence')

    with op.batch_alter_table('invite_delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invite_delivery_state'))
        batch_op.drop_index(batch_op.f('ix_invite_delivery_member_id'))
        batch_op.drop_index(batch_op.f('ix_invite_delivery_meeting_id'))

    op.drop_table('invite_delivery')
