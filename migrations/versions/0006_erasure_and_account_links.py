"""erasing a deleted member from the audit log, and reset links of two purposes (password, a departed member's data)

The audit log stays append-only, with one exception the database itself checks: while a transaction holds a
row in audit_erasure (deleting a member's account does, and removes it before it commits), an event's
details may be rewritten, and nothing else about it: its action, people, target and time stay.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

APPEND_ONLY = "the audit log is append-only"
def _same(dialect):
    if dialect == "postgresql":
        template = "NEW.{c} IS NOT DISTINCT FROM OLD.{c}"
    else:
        template = "NEW.{c} IS OLD.{c}"
    return " AND ".join(template.format(c=column) for column in
                        ("id", "action", "actor_id", "subject_member_id", "target_type", "target_id", "created_at"))


def upgrade():
    op.create_table('audit_erasure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_erasure'))
    )
    # A plain ALTER TABLE on both databases: SQLite adds a column in place, with no rebuild of the table.
    op.add_column('password_reset',
                  sa.Column('purpose', sa.String(length=16), nullable=False, server_default='password'))

    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"""
            CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'UPDATE' AND EXISTS (SELECT 1 FROM audit_erasure) AND {_same(dialect)} THEN
                    RETURN NEW;
                END IF;
                RAISE EXCEPTION '{APPEND_ONLY}';
            END; $$
        """)
    else:
        op.execute("DROP TRIGGER audit_event_no_update")
        op.execute(f"CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
                   f"WHEN NOT (EXISTS (SELECT 1 FROM audit_erasure) AND {_same(dialect)}) "
                   f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END")


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"""
            CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END; $$
        """)
    else:
        op.execute("DROP TRIGGER audit_event_no_update")
        op.execute(f"CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
                   f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END")
    op.execute("ALTER TABLE password_reset DROP COLUMN purpose")
    op.drop_table('audit_erasure')
