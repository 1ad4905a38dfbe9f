"""The `thinknet` command: Flask's CLI bound to this app (run, db, shell) and the group's own commands."""
from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click
from email_validator import EmailNotValidError, validate_email
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from imapclient.exceptions import IMAPClientError
from sqlalchemy.exc import DBAPIError

from thinknet import outbox
from thinknet.auth.services import password_problem
from thinknet.extensions import db
from thinknet.models import Role, Settings

DEMO_SIGN_IN_FILE = "demo-sign-in.txt"
EX_TEMPFAIL = 75  # sysexits.h: the mail server keeps the message and offers it again later


def _create_app() -> Flask:
    from thinknet import create_app
    from thinknet.config import ConfigurationError

    try:
        return create_app()
    except ConfigurationError as problem:
        # One line, as gunicorn says it. A mail server's pipe keeps its message and tries again (75) while the
        # operator puts the setting right; any other command stops (3).
        click.echo(f"thinknet: {problem}", err=True)
        raise SystemExit(EX_TEMPFAIL if "receive-mail" in sys.argv[1:] else 3) from None


cli = FlaskGroup(name="thinknet", create_app=_create_app, help="Run and manage a thinknet group.")


def main() -> None:
    cli.main(prog_name="thinknet")


def _check_email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise click.BadParameter(str(error)) from None


def _check_password(value: str) -> str:
    problem = password_problem(value)
    if problem:
        raise click.BadParameter(problem)
    return value


@click.command("create-organizer")
@click.option("--email", required=True, callback=lambda ctx, param, value: _check_email(value))
@click.option("--name", required=True)
@click.option("--headline", default="", help="Role, e.g. Managing director (shown with the name).")
@click.option("--sector", default="", help="Sector, e.g. Logistics.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              callback=lambda ctx, param, value: _check_password(value),
              help="Asked for when not given (give it only in scripts).")
@with_appcontext
def create_organizer(email: str, name: str, headline: str, sector: str, password: str) -> None:
    """Creates an organizer who founds the group (no sponsor)."""
    from thinknet.members.services import EmailTaken, create_founder

    try:
        member = create_founder(email=email, name=name, headline=headline, sector=sector, password=password,
                                role=Role.ORGANIZER)
    except EmailTaken as taken:
        raise click.ClickException(str(taken)) from None
    db.session.commit()
    click.echo(f"Created organizer {member.name} <{member.email}>.")
    if Settings.get().setup_left:
        click.echo(f"Sign in at {current_app.config['BASE_URL']}/login: the first sign-in leads through the "
                   "group's set-up.")


@click.command("demo")
@click.option("--force", is_flag=True, help="Erase every existing record first.")
@click.option("--if-empty", is_flag=True, help="Do nothing (and succeed) when the group already has members.")
@with_appcontext
def demo(force: bool, if_empty: bool) -> None:
    """Loads a believable demo network into the database."""
    from thinknet.demo import clear_all_data, load_demo
    from thinknet.members.services import member_count

    if current_app.config["PRODUCTION"]:
        raise click.ClickException("This is a production site (THINKNET_PRODUCTION): the demo network is never "
                                   "loaded into it.")
    sign_in_file = Path(current_app.instance_path) / DEMO_SIGN_IN_FILE
    if member_count() and not force:
        if if_empty:
            click.echo("The database already has members; leaving it as it is.")
            if sign_in_file.exists():
                click.echo(sign_in_file.read_text().rstrip())
            return
        raise click.ClickException("The database already has members. Use --force to erase them and load the demo.")
    if force:
        clear_all_data()
    sign_in = load_demo(date.today())
    db.session.commit()
    text = (
        "Demo sign-in (password for every demo account: {p})\n"
        "  organizer: {o}\n  member:    {m}"
    ).format(p=sign_in.password, o=sign_in.organizer_email, m=sign_in.member_email)
    sign_in_file.write_text(text + "\n")
    sign_in_file.chmod(0o600)
    click.echo("Loaded the demo network.")
    click.echo(text)


@click.command("schedule-ahead")
@with_appcontext
def schedule_ahead() -> None:
    """Keeps the next 8 weeks scheduled, rolls undiscussed topics over and drops old brute-force counters and
    calendar replies (run it from cron, daily)."""
    from thinknet import throttle
    from thinknet.meetings.queries import WEEKS_AHEAD
    from thinknet.meetings.schedule import active_series
    from thinknet.meetings.schedule import schedule_ahead as schedule
    from thinknet.topics.services import roll_over_past

    from thinknet.calendar.mailbox import prune_kept_on_disk
    from thinknet.calendar.replies import prune as prune_replies

    series = active_series()
    created = schedule(series) if series else []
    rolled = roll_over_past()
    throttle.prune()  # counters past every window are of no more use
    prune_replies()  # the record of calendar replies, and what was kept aside, for 90 days
    prune_kept_on_disk()
    db.session.commit()
    if series is None:
        click.echo("No weekly series is set up yet; nothing to schedule.")
    else:
        click.echo(f"Scheduled {len(created)} new session(s); the next {WEEKS_AHEAD} weeks are in the calendar.")
    click.echo(f"Rolled {rolled} undiscussed topic(s) over to the next session.")


@click.command("send-reminders")
@with_appcontext
def send_reminders() -> None:
    """Queues what is due (cut-off headcounts, lapse nudges) and sends every message waiting in the outbox
    (cron, every few minutes)."""
    from thinknet.meetings.reminders import send_cutoff_headcounts, send_lapse_nudges

    headcounts = send_cutoff_headcounts()
    nudges = send_lapse_nudges()
    sent, not_sent = outbox.send_due()
    click.echo(f"Headcounts for {headcounts} session(s); {nudges} lapse nudge(s); "
               f"{sent} message(s) sent, {not_sent} not sent (tried again later, or failed: see /admin/mail).")


@click.command("send-mail")
@with_appcontext
def send_mail() -> None:
    """Sends every message waiting in the outbox whose time has come (the app's own sender does this too; run
    it from cron when no app process is running, or to see what happens)."""
    sent, not_sent = outbox.send_due()
    waiting, failed = outbox.waiting_and_failed()
    click.echo(f"{sent} message(s) sent, {not_sent} not sent; {waiting} waiting, {failed} failed.")


@click.group("mail")
def mail_group() -> None:
    """The site's mail."""


@mail_group.command("test")
@click.argument("address")
@with_appcontext
def mail_test(address: str) -> None:
    """Sends a test message to ADDRESS through the configured mail server, now, and says what happened."""
    from thinknet.mail import compose

    config = current_app.config
    if config["MAIL_BACKEND"] == "smtp":
        security = " with TLS" if config.get("MAIL_USE_TLS") else " over SSL" if config.get("MAIL_USE_SSL") else ""
        route = f"the mail server {config['MAIL_SERVER']}:{config['MAIL_PORT']}{security}"
    elif config["MAIL_BACKEND"] == "file":
        route = f"the folder {config['MAIL_FILE_PATH']} (no MAIL_SERVER is set, so nothing leaves this machine)"
    else:
        route = f"the {config['MAIL_BACKEND']} mail backend"
    message = compose(address, "A test message", "mail_test", base_url=config["BASE_URL"])
    try:
        message.send()
    except Exception as error:  # whatever the server or the network said, said plainly
        raise click.ClickException(f"Could not send to {address} through {route}: "
                                   f"{type(error).__name__}: {error}") from None
    click.echo(f"Sent a test message to {address} through {route}, which accepted it (from {message.from_email}).")


@click.command("fetch-replies")
@click.option("--idle", is_flag=True, help="Stay connected and read replies as they arrive (IMAP IDLE).")
@with_appcontext
def fetch_replies(idle: bool) -> None:
    """Reads calendar replies (Accept, Maybe, Decline) from the reply mailbox over IMAP and applies them as RSVPs
    (the scheduler, every few minutes; or once with --idle, kept running)."""
    from thinknet.calendar.mailbox import MailboxNotConfigured
    from thinknet.calendar.mailbox import fetch_replies as fetch
    from thinknet.calendar.replies import replies_configured
    from thinknet.errors import database_unreachable, first_line

    if not replies_configured():
        raise click.ClickException("THINKNET_REPLY_ADDRESS is not set: invites ask for no replies, and none is read.")
    try:
        tally = fetch(idle=idle)
    except MailboxNotConfigured as problem:
        raise click.ClickException(str(problem)) from None
    except KeyboardInterrupt:
        return
    except Exception as error:
        if isinstance(error, DBAPIError) and database_unreachable(error):
            raise click.ClickException(f"database unavailable: {first_line(error)}; the replies wait in the "
                                       "mailbox for the next run") from None
        if isinstance(error, TimeoutError):
            security = current_app.config["IMAP_SECURITY"]
            raise click.ClickException(f"could not read the reply mailbox: the server did not answer in time (is "
                                       f"THINKNET_IMAP_SECURITY={security} right for its port?)") from None
        if isinstance(error, (OSError, IMAPClientError)):
            raise click.ClickException(f"could not read the reply mailbox: {type(error).__name__}: {error}") from None
        raise
    click.echo(f"Read the reply mailbox: {tally}.")


@click.command("receive-mail")
@with_appcontext
def receive_mail() -> None:
    """Reads one message on standard input (a mail server's pipe, or a forwarding rule) and applies the calendar
    reply it carries. A message that is not one is kept aside in the instance folder. Exits 75 (try again
    later) while the database is down, so the mail server keeps the message."""
    from thinknet.calendar.mailbox import keep_on_disk, take
    from thinknet.calendar.replies import replies_configured
    from thinknet.errors import database_unreachable, first_line

    raw = sys.stdin.buffer.read()
    if not replies_configured():
        click.echo("THINKNET_REPLY_ADDRESS is not set, so no reply can be read; try again later", err=True)
        raise SystemExit(EX_TEMPFAIL)
    try:
        outcome = take(raw)
    except DBAPIError as error:
        # Unreachable, read-only, behind the code: whatever the database says, the mail server keeps the message
        # and offers it again, so nothing is lost while an operator puts it right.
        reason = "database unavailable" if database_unreachable(error) else "database error"
        click.echo(f"{reason}: {first_line(error)}; try again later", err=True)
        raise SystemExit(EX_TEMPFAIL) from None
    detail = outcome.detail.rstrip(".")
    outbox.send_due()  # what it caused, a notice to the member included, goes now
    if outcome.kept:
        click.echo(f"Kept aside ({detail}): {keep_on_disk(raw)}")
    else:
        click.echo(f"Calendar reply {outcome.outcome}{': ' + detail if detail else ''}.")


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(path: Path) -> None:
    """Writes a consistent copy of the database to PATH, even while the app is writing."""
    from thinknet.backup import BackupError, backup

    try:
        kind = backup(path)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Backed up the {kind} database to {path}.")


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_command(path: Path, yes: bool) -> None:
    """Replaces the database with the backup at PATH (stop the app first), then run `thinknet db upgrade`."""
    from thinknet.backup import BackupError, restore

    if not yes:
        click.confirm("This replaces everything in the database with the backup. Go on?", abort=True)
    try:
        kind = restore(path)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Restored the {kind} database from {path}. Now run `thinknet db upgrade` to bring it up to date.")


def init_app(app: Flask) -> None:
    app.cli.add_command(create_organizer)
    app.cli.add_command(demo)
    app.cli.add_command(schedule_ahead)
    app.cli.add_command(send_reminders)
    app.cli.add_command(send_mail)
    app.cli.add_command(mail_group)
    app.cli.add_command(fetch_replies)
    app.cli.add_command(receive_mail)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
