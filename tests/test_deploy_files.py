"""What self-hosters install (deploy/, Dockerfile, compose.yaml) agrees with the app: every setting in the example
environment is one the app reads, the app starts from it, every command the units and the image run exists,
and every unit reads the same environment file."""
from __future__ import annotations

import configparser
import re
import subprocess
import sys
from pathlib import Path

from flask import Flask

from thinknet.config import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
# Read from the environment by name rather than as a THINKNET_<setting> (see gunicorn.conf.py, thinknet/__init__).
READ_BY_NAME = {"THINKNET_INSTANCE_PATH", "THINKNET_BIND", "THINKNET_PIDFILE", "THINKNET_CONTROL_SOCKET",
                "THINKNET_ACCESS_LOG", "THINKNET_TIMEOUT", "DATABASE_URL", "RATELIMIT_STORAGE_URI",
                "FORWARDED_ALLOW_IPS", "WEB_CONCURRENCY"}


def example_environment() -> dict[str, str]:
    settings = {}
    for line in (DEPLOY / "thinknet.env.example").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        assert re.fullmatch(r"[A-Z_][A-Z0-9_]*=[^\"']*", line), f"not KEY=value for systemd and compose: {line}"
        key, value = line.split("=", 1)
        settings[key] = value
    return settings


def test_every_setting_in_the_example_environment_is_one_the_app_reads():
    for key in example_environment():
        setting = key.removeprefix("THINKNET_")
        known = key in READ_BY_NAME or setting in DEFAULTS or setting in Flask.default_config or key.startswith("MAIL_")
        assert known, f"{key} is read by nothing"
    for name in READ_BY_NAME - {"DATABASE_URL", "RATELIMIT_STORAGE_URI"}:
        assert name in (ROOT / "gunicorn.conf.py").read_text() + (ROOT / "thinknet" / "__init__.py").read_text()


def test_the_app_starts_in_production_from_the_example_environment(tmp_path, monkeypatch, migrated_database):
    from thinknet import production_app

    for key, value in example_environment().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("THINKNET_SECRET_KEY", "k" * 64)
    monkeypatch.setenv("THINKNET_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("DATABASE_URL", migrated_database)
    app = production_app()
    assert app.config["MAIL_PORT"] == 587 and app.config["MAIL_USE_TLS"] is True
    assert app.config["BASE_URL"] == "https://breakfast.example.org" and app.config["PROXY_COUNT"] == 1


def units() -> dict[str, configparser.ConfigParser]:
    found = {}
    for path in sorted(DEPLOY.glob("thinknet*.service")) + sorted(DEPLOY.glob("thinknet*.timer")):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str
        parser.read(path)
        found[path.name] = parser
    return found


def test_every_unit_reads_the_one_environment_file_and_runs_commands_that_exist():
    services = {name: unit for name, unit in units().items() if name.endswith(".service")}
    assert {unit["Service"]["EnvironmentFile"] for unit in services.values()} == {"/etc/thinknet/thinknet.env"}
    thinknet = Path(sys.executable).parent / "thinknet"
    for name, unit in services.items():
        command = unit["Service"]["ExecStart"]
        if "gunicorn" in command:
            assert "--config /srv/thinknet/gunicorn.conf.py" in command
            assert unit["Service"]["ExecReload"].startswith("/srv/thinknet/deploy/reload")
            continue
        subcommand = re.search(r"/\.venv/bin/thinknet ([a-z-]+)", command).group(1)
        result = subprocess.run([str(thinknet), subcommand, "--help"], capture_output=True, text=True)
        assert result.returncode == 0, f"{name}: thinknet {subcommand} does not exist"
    for name in units():
        if name.endswith(".timer"):
            assert name.replace(".timer", ".service") in services


def test_the_image_copies_what_exists_and_runs_the_migrations_before_serving():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (.+) \S+$", dockerfile, re.M):
        for name in source.split():
            assert (ROOT / name).exists(), f"the Dockerfile copies {name}, which is not in the repository"
    assert "thinknet db upgrade && exec gunicorn --config gunicorn.conf.py" in dockerfile
    compose = (ROOT / "compose.yaml").read_text()
    for service in ("app:", "db:", "redis:", "scheduler:"):
        assert f"\n  {service}" in compose
    assert "env_file: thinknet.env" in compose
