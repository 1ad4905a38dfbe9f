"""calendar replies read from the group's mailbox: each message once, with what became of it, and what each member
was told about it (once)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30

"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('calendar_reply',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_key', sa.String(length=255), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('meeting_id', sa.Integer(), nullable=True),
    sa.Column('partstat', sa.String(length=20), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('detail', sa.String(length=300), nullable=False),
    sa.Column('authenticated_by', sa.String(length=20), nullable=False),
    sa.Column('written_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_calendar_reply_meeting_id_meeting'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_calendar_reply_member_id_member'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_reply')),
    sa.UniqueConstraint('message_key', name=op.f('uq_calendar_reply_message_key'))
    )
    op.create_index(op.f('ix_calendar_reply_received_at'), 'calendar_reply', ['received_at'])
    op.create_index(op.f('ix_calendar_reply_member_id'), 'calendar_reply', ['member_id'])
    op.create_index(op.f('ix_calendar_reply_meeting_id'), 'calendar_reply', ['meeting_id'])
    op.create_table('calendar_reply_notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('what', sa.String(length=40), nullable=False),
    sa.Column('answer_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('told_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('told_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_calendar_reply_notice_meeting_id_meeting'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_calendar_reply_notice_member_id_member'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_reply_notice')),
    sa.UniqueConstraint('member_id', 'meeting_id', 'what', name=op.f('uq_calendar_reply_notice_member_id_meeting_id_what'))
    )
    op.create_index(op.f('ix_calendar_reply_notice_meeting_id'), 'calendar_reply_notice', ['meeting_id'])


def downgrade():
    op.drop_table('calendar_reply_notice')
    op.drop_table('calendar_reply')
