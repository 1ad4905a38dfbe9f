import logging
from logging.config import fileConfig

from flask import current_app

from alembic import context

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Interpret the config file for Python logging.
# This line sets up loggers basically.
# Keep the app's own loggers working when migrations run inside it (tests, `thinknet db upgrade`).
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger('alembic.env')


def get_engine():
    return current_app.extensions['migrate'].db.engine


def get_engine_url():
    return get_engine().url.render_as_string(hide_password=False).replace('%', '%%')


# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
config.set_main_option('sqlalchemy.url', get_engine_url())
target_db = current_app.extensions['migrate'].db

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def get_metadata():
    if hasattr(target_db, 'metadatas'):
        return target_db.metadatas[None]
    return target_db.metadata


def render_item(type_, obj, autogen_context):
    """Our UTCDateTime is a timestamp with time zone to the database; migrations say so plainly."""
    from thinknet.models import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _broken_references(connection):
    """How many rows of each table point at a missing row of each parent table."""
    from collections import Counter

    return Counter((row[0], row[2]) for row in connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall())


def _described(broken):
    return ", ".join(f"{count} in {table} (to {parent})" for (table, parent), count in sorted(broken.items()))


def check_foreign_keys(ctx, step, heads, run_args):
    """Runs after each migration, inside its transaction: a migration that leaves rows pointing at nothing
    fails, and is then rolled back whole instead of committed. Broken references the database held before the
    upgrade (a row deleted by hand with foreign keys off) are not the migration's doing: they are reported in
    the log and left as they were."""
    before = ctx.connection.info["thinknet.broken_at_start"]
    now = _broken_references(ctx.connection)
    added = now - before
    if added:
        raise RuntimeError(f"migration {step.up_revision_id} would leave rows pointing at nothing: "
                           f"{_described(added)}; it was rolled back")


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url, target_metadata=get_metadata(), literal_binds=True,
        render_item=render_item,
    )

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, 'autogenerate', False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info('No changes in schema detected.')

    conf_args = dict(current_app.extensions['migrate'].configure_args)  # this run's own
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives
    conf_args.setdefault("render_item", render_item)

    connectable = get_engine()

    with connectable.connect() as connection:
        # A migration is no change of the group's data for the page cache (its revision table may not exist
        # yet); workers start with empty caches after an upgrade anyway.
        connection.info["thinknet.migrating"] = True
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite rebuilds a table to alter it (batch_alter_table: copy, DROP, rename). With foreign keys
            # on, the DROP cascades into every table that refers to it, deleting their rows, or fails. So
            # migrations run with them off (Alembic's recipe; the pragma only takes effect outside a
            # transaction), and each migration checks them itself before it commits (check_foreign_keys).
            connection.connection.dbapi_connection.execute("PRAGMA foreign_keys = OFF")
            broken = _broken_references(connection)
            connection.rollback()
            if broken:
                logger.warning("the database already holds rows pointing at nothing, left as they are: %s",
                               _described(broken))
            connection.info["thinknet.broken_at_start"] = broken
            conf_args.setdefault("on_version_apply", [check_foreign_keys])
        context.configure(
            connection=connection,
            target_metadata=get_metadata(),
            **conf_args
        )

        try:
            with context.begin_transaction():
                context.run_migrations()
        finally:
            connection.info.pop("thinknet.migrating", None)
            connection.info.pop("thinknet.broken_at_start", None)
            if sqlite:
                connection.rollback()  # nothing is left open by a migration that failed
                connection.connection.dbapi_connection.execute("PRAGMA foreign_keys = ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
