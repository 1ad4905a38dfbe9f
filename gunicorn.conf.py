"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py` from the project folder.

Every value can be overridden from the environment, so one file serves every machine."""
import gc
import multiprocessing
import os

wsgi_app = "thinknet:production_app()"
# Served by gunicorn is production: the app then refuses to start without THINKNET_BASE_URL. gunicorn sets
# this in its own environment before it loads the app.
raw_env = ["THINKNET_PRODUCTION=true"]
bind = os.environ.get("THINKNET_BIND", "127.0.0.1:8000")

# Sync workers, one per core plus one. A request spends its time in Python, not waiting on the database
# (SQLite is in-process; PostgreSQL answers in well under a millisecond), so more workers than cores only
# take turns on them: on 2 cores, 3 workers served 35-45% more requests than 5, with a lower p99.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))
worker_class = "sync"

# A slow request is cut at 30 s; on restart, workers get 30 s to finish what they are doing.
timeout = int(os.environ.get("THINKNET_TIMEOUT", 30))
graceful_timeout = 30
keepalive = 5

# The app is loaded once, before the workers are forked: a worker starts (or is replaced) in milliseconds
# instead of importing everything again while requests wait.
preload_app = True

# A worker is replaced after 100,000 to 150,000 requests (weeks, for one group), so no process grows for
# ever; the jitter keeps them from all being replaced at once. Not much sooner: a new worker starts with
# empty caches (pages, compiled statements, templates), and under load 5,000 requests came every 20 seconds.
max_requests = 100_000
max_requests_jitter = 50_000

# The access log records the path without its query string; the app's log filter replaces the secret part of
# join, reset and calendar-feed paths with [redacted] in this log too.
accesslog = os.environ.get("THINKNET_ACCESS_LOG", "-")
errorlog = "-"
# Each access line: time, the request's id (as in its X-Request-Id header), the member's id, address, method
# and path, status, bytes, duration and browser; one JSON object instead with THINKNET_LOG_FORMAT=json.
logger_class = "thinknet.logs.GunicornLogger"

# gunicorn's control socket (for gunicornc) in this site's instance folder, readable by its owner only: the
# default, ~/.gunicorn/gunicorn.ctl, is one path for every server run by the same user. It is named after the
# master's process id, because on a code reload (deploy/reload) the old master removes its socket as it leaves:
# `gunicornc -s instance/gunicorn.$(cat instance/gunicorn.pid).ctl`.
def _instance_folder():
    from thinknet import default_instance_path

    if default_instance_path():
        return default_instance_path()
    import sys
    return os.path.join(sys.prefix, "var", "thinknet-instance")  # Flask's default for an installed package


control_socket = os.environ.get("THINKNET_CONTROL_SOCKET",
                                os.path.join(_instance_folder(), f"gunicorn.{os.getpid()}.ctl"))
control_socket_mode = 0o600
# The master's process id, where deploy/reload finds it. On a code reload (USR2) the new master writes
# gunicorn.pid.2 and takes this name once the old one has left.
pidfile = os.environ.get("THINKNET_PIDFILE", os.path.join(_instance_folder(), "gunicorn.pid"))

# Only the load balancer in front may say which address and scheme a request came from.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def pre_exec(server):
    """In a code reload's new master, before it loads the new code: its process id, so deploy/reload can tell a
    start that failed (the process is gone) from a slow one."""
    with open(pidfile + ".starting", "w") as starting:
        starting.write(str(os.getpid()))


def when_ready(server):
    """After the app is loaded, before the first fork. A database that cannot be reached, or whose schema is
    behind the code, stops the server here with one line saying what to do, instead of a traceback per
    request. Then what is loaded so far is never collected again, so the workers' garbage collections skip it
    and leave its memory pages shared."""
    from thinknet import schema

    problem = schema.startup_problem(server.app.wsgi())
    if problem:
        server.log.error("not starting: %s", problem)
        server.halt(problem, 3)
    gc.freeze()


def post_fork(server, worker):
    """Each worker opens its own database connections: none may be shared with the master."""
    app = server.app.wsgi()
    database = getattr(app, "extensions", {}).get("sqlalchemy")
    if database is not None:
        with app.app_context():
            for engine in database.engines.values():
                engine.dispose(close=False)
    if getattr(app, "config", {}).get("MAIL_IN_BACKGROUND"):
        from thinknet import outbox

        outbox.start(app)  # this worker's mail sender: what waited while no worker ran goes out now


def worker_exit(server, worker):
    """A worker leaving (restart, recycle) finishes the message in hand; the rest stays queued for the others."""
    from thinknet import outbox

    outbox.stop(timeout=graceful_timeout / 2)
