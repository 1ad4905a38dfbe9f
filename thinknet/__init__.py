"""thinknet: one invite-only thinking network's weekly breakfasts, open agendas and sponsor chain."""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

__version__ = "0.9.0"

PACKAGE_DIR = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """templates/ and migrations/ sit beside the package in a checkout and inside it in a wheel."""
    inside = PACKAGE_DIR / name
    return inside if inside.is_dir() else PACKAGE_DIR.parent / name


def default_instance_path() -> str | None:
    if os.environ.get("THINKNET_INSTANCE_PATH"):
        return os.path.abspath(os.environ["THINKNET_INSTANCE_PATH"])
    checkout = PACKAGE_DIR.parent
    if (checkout / "pyproject.toml").is_file():
        return str(checkout / "instance")
    return None  # Flask's default for an installed package: <prefix>/var/thinknet-instance


def production_app() -> Any:
    """The app as gunicorn loads it (gunicorn.conf.py): a setting production cannot run without stops the server
    with one line saying which, instead of a traceback."""
    from thinknet.config import ConfigurationError

    try:
        return create_app()
    except ConfigurationError as error:
        print(f"thinknet: not starting: {error}", file=sys.stderr, flush=True)
        raise SystemExit(3) from None


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The app factory; ``config`` overrides the configuration entirely (tests use it)."""
    from thinknet import assets, access, cli, database, errors, htmx, logs, pagecache, schema, security
    from thinknet.admin.views import bp as admin_bp
    from thinknet.auth.views import bp as auth_bp
    from thinknet.config import load_config
    from thinknet.extensions import csrf, db, limiter, login_manager, mail, migrate
    from thinknet.extensions import htmx as htmx_extension
    from thinknet.invitations.views import bp as invitations_bp
    from thinknet.invitations.views import join_bp
    from thinknet.main.views import bp as main_bp
    from thinknet.me.views import bp as me_bp
    from thinknet.meetings.views import bp as meetings_bp
    from thinknet.calendar.views import bp as calendar_bp
    from thinknet.topics.views import bp as topics_bp
    from thinknet.members.views import bp as members_bp
    from thinknet.own_data.views import bp as own_data_bp
    from thinknet.app import Thinknet
    from thinknet.routing import BoundedInt

    instance_path = (config or {}).get("INSTANCE_PATH") or default_instance_path()
    app = Thinknet(
        __name__,
        instance_path=instance_path,
        instance_relative_config=True,
        template_folder=str(resource_dir("templates")),
        static_folder=str(PACKAGE_DIR / "static"),
    )
    os.makedirs(app.instance_path, exist_ok=True)
    load_config(app, config)
    if app.config["PROXY_COUNT"]:
        # Behind a load balancer: the client's address (rate limits) and https (cookies, HSTS) come from it.
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = int(app.config["PROXY_COUNT"])
        # Its X-Forwarded-Host is not trusted: no link is built from a host name a request brings.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)  # type: ignore[method-assign]
    security.init_app(app)

    db.init_app(app)
    database.configure_engines(app)
    pagecache.init_app(app)
    migrate.init_app(app, db, directory=str(resource_dir("migrations")), render_as_batch=True)
    schema.init_app(app)  # first of the request hooks: nothing is served from a database behind the code
    htmx_extension.init_app(app)
    mail.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    # The sign-in guard runs before the CSRF check, so a visitor is sent to sign in, not shown a 400.
    access.init_app(app)
    csrf.init_app(app)
    database.write_from_the_view(app)
    htmx.init_app(app)
    errors.init_app(app)

    logs.init_app(app)  # last of the request hooks, so its id comes first

    # An id beyond what the database's integer columns hold matches no route: a plain 404, never a 500.
    app.url_map.converters["int"] = BoundedInt
    app.register_blueprint(auth_bp)
    app.register_blueprint(main_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(invitations_bp)
    app.register_blueprint(join_bp)
    app.register_blueprint(members_bp)
    app.register_blueprint(me_bp)
    app.register_blueprint(meetings_bp)
    app.register_blueprint(calendar_bp)
    app.register_blueprint(topics_bp)
    app.register_blueprint(own_data_bp)
    cli.init_app(app)

    from thinknet.templating import init_app as init_templating

    init_templating(app)
    assets.init_app(app)
    return app
