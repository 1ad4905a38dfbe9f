"""the outbox: every message is queued in the transaction of the change that causes it and sent after the
commit, with retries; calendar updates join it, and the calendar's words no longer say "invite"

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

STATE = sa.Enum('pending', 'sending', 'sent', 'failed', 'withdrawn', name='mailstate', native_enum=False, length=20)


def upgrade():
    op.create_table('outgoing_mail',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('sender', sa.String(length=400), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('invitation_id', sa.Integer(), nullable=True),
    sa.Column('password_reset_id', sa.Integer(), nullable=True),
    sa.Column('meeting_id', sa.Integer(), nullable=True),
    sa.Column('calendar_method', sa.String(length=10), nullable=True),
    sa.Column('calendar_sequence', sa.Integer(), nullable=True),
    sa.Column('state', STATE, nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invitation_id'], ['invitation.id'], name=op.f('fk_outgoing_mail_invitation_id_invitation'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_outgoing_mail_meeting_id_meeting'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['password_reset_id'], ['password_reset.id'], name=op.f('fk_outgoing_mail_password_reset_id_password_reset'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_outgoing_mail_member_id_member'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outgoing_mail'))
    )
    op.create_index('ix_outgoing_mail_state_next_attempt_at', 'outgoing_mail', ['state', 'next_attempt_at'])
    op.create_index(op.f('ix_outgoing_mail_member_id'), 'outgoing_mail', ['member_id'])
    op.create_index(op.f('ix_outgoing_mail_invitation_id'), 'outgoing_mail', ['invitation_id'])
    op.create_index(op.f('ix_outgoing_mail_meeting_id'), 'outgoing_mail', ['meeting_id'])
    op.create_index(op.f('ix_outgoing_mail_password_reset_id'), 'outgoing_mail', ['password_reset_id'])

    # Every calendar delivery so far becomes a calendar update in the outbox, with its state and error; one
    # still waiting is sent by the outbox like any other.
    op.execute(
        "INSERT INTO outgoing_mail (kind, recipient, sender, subject, body_text, body_html, member_id, meeting_id, "
        "calendar_method, calendar_sequence, state, attempts, next_attempt_at, claimed_at, sent_at, error, "
        "created_at) "
        "SELECT 'calendar', member.email, '', '', '', '', invite_delivery.member_id, invite_delivery.meeting_id, "
        "invite_delivery.method, invite_delivery.sequence, invite_delivery.state, "
        "CASE WHEN invite_delivery.state IN ('sent', 'failed') THEN 1 ELSE 0 END, invite_delivery.created_at, "
        "CASE WHEN invite_delivery.state = 'sending' THEN invite_delivery.sent_at END, "
        "CASE WHEN invite_delivery.state = 'sent' THEN invite_delivery.sent_at END, invite_delivery.error, "
        "invite_delivery.created_at "
        "FROM invite_delivery JOIN member ON member.id = invite_delivery.member_id ORDER BY invite_delivery.id"
    )
    op.drop_index(op.f('ix_invite_delivery_state'), table_name='invite_delivery')
    op.drop_index(op.f('ix_invite_delivery_member_id'), table_name='invite_delivery')
    op.drop_index(op.f('ix_invite_delivery_meeting_id'), table_name='invite_delivery')
    op.drop_table('invite_delivery')

    # Renamed in place (SQLite 3.25 and later, PostgreSQL): no table is rebuilt, so no row can be lost.
    op.execute("ALTER TABLE meeting RENAME COLUMN invites_sent_at TO calendar_sent_at")
    op.execute("ALTER TABLE meeting RENAME COLUMN invites_sent_sequence TO calendar_sent_sequence")
    op.execute("ALTER TABLE member RENAME COLUMN wants_calendar_invites TO wants_calendar_updates")


def downgrade():
    op.execute("ALTER TABLE member RENAME COLUMN wants_calendar_updates TO wants_calendar_invites")
    op.execute("ALTER TABLE meeting RENAME COLUMN calendar_sent_sequence TO invites_sent_sequence")
    op.execute("ALTER TABLE meeting RENAME COLUMN calendar_sent_at TO invites_sent_at")
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
    op.create_index(op.f('ix_invite_delivery_meeting_id'), 'invite_delivery', ['meeting_id'])
    op.create_index(op.f('ix_invite_delivery_member_id'), 'invite_delivery', ['member_id'])
    op.create_index(op.f('ix_invite_delivery_state'), 'invite_delivery', ['state'])
    op.execute(
        "INSERT INTO invite_delivery (meeting_id, member_id, method, sequence, state, error, created_at, sent_at) "
        "SELECT meeting_id, member_id, calendar_method, calendar_sequence, state, error, created_at, "
        "COALESCE(sent_at, claimed_at) FROM outgoing_mail WHERE kind = 'calendar' ORDER BY id"
    )
    op.drop_table('outgoing_mail')
