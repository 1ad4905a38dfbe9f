"""Configuration: defaults, the instance's config.py, the environment, overrides, and the secret key."""
from __future__ import annotations

import stat

import pytest

from thinknet import create_app
from thinknet.config import database_uri
from thinknet.security import InsecureSecretKey

FILE_KEY = "a-key-from-the-instance-file-0123456789abcdef"
ENV_KEY = "a-key-from-the-environment-0123456789abcdef"


@pytest.fixture
def instance(tmp_path, monkeypatch):
    folder = tmp_path / "instance"
    monkeypatch.setenv("THINKNET_INSTANCE_PATH", str(folder))
    for name in ("DATABASE_URL", "MAIL_SERVER", "MAIL_PORT", "MAIL_BACKEND", "THINKNET_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    return folder


def test_a_missing_secret_key_is_generated_once_into_the_instance_folder(instance):
    first = create_app()
    second = create_app()
    key_file = instance / "secret_key"
    assert len(first.config["SECRET_KEY"]) >= 64
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"] == key_file.read_text().strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_defaults_use_the_embedded_sqlite_and_the_file_outbox(instance):
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'thinknet.sqlite'}"
    assert app.config["MAIL_BACKEND"] == "file"
    assert app.config["MAIL_FILE_PATH"] == str(instance / "sent-mail")
    assert app.config["SQLITE_BUSY_TIMEOUT_SECONDS"] == 30


def test_the_instance_config_file_is_read(instance):
    instance.mkdir()
    (instance / "config.py").write_text(f'GROUP_TAGLINE = "from the file"\nSECRET_KEY = "{FILE_KEY}"\n')
    app = create_app()
    assert app.config["GROUP_TAGLINE"] == "from the file"
    assert app.config["SECRET_KEY"] == FILE_KEY


def test_the_environment_overrides_the_instance_file(instance, monkeypatch):
    instance.mkdir()
    (instance / "config.py").write_text(f'SECRET_KEY = "{FILE_KEY}"\n')
    monkeypatch.setenv("THINKNET_SECRET_KEY", ENV_KEY)
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.internal/thinknet")
    monkeypatch.setenv("MAIL_SERVER", "smtp.example.org")
    monkeypatch.setenv("MAIL_PORT", "587")
    app = create_app()
    assert app.config["SECRET_KEY"] == ENV_KEY
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@db.internal/thinknet"
    assert app.config["MAIL_SERVER"] == "smtp.example.org"
    assert app.config["MAIL_PORT"] == 587
    assert app.config["MAIL_BACKEND"] == "smtp"


def test_a_mapping_overrides_everything(instance, monkeypatch, tmp_path):
    monkeypatch.setenv("THINKNET_SECRET_KEY", ENV_KEY)
    app = create_app({"SECRET_KEY": "mapped", "INSTANCE_PATH": str(tmp_path / "other"), "TESTING": True})
    assert app.config["SECRET_KEY"] == "mapped"
    assert app.instance_path == str(tmp_path / "other")


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////var/db.sqlite", "sqlite:////var/db.sqlite"),
    ],
)
def test_database_urls_are_pointed_at_the_psycopg_driver(given, used):
    assert database_uri(given) == used


@pytest.mark.parametrize("weak", ["dev", "changeme", "short-key"])
def test_a_weak_secret_key_stops_start_up_with_a_clear_message(instance, monkeypatch, weak):
    monkeypatch.setenv("THINKNET_SECRET_KEY", weak)
    with pytest.raises(InsecureSecretKey, match="SECRET_KEY is missing or weak"):
        create_app()


def test_cookies_are_secure_when_the_site_is_https_and_not_on_local_http(instance, monkeypatch):
    assert create_app().config["SESSION_COOKIE_SECURE"] is False
    monkeypatch.setenv("THINKNET_BASE_URL", "https://breakfast.example.org")
    app = create_app()
    assert app.config["SESSION_COOKIE_SECURE"] is True and app.config["REMEMBER_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] and app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
