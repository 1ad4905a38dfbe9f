"""The app finds its templates, static files and migrations from a built wheel, not only from a checkout."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SMOKE = textwrap.dedent(
    """
    import sys
    import thinknet
    from flask_migrate import upgrade
    assert thinknet.__file__.startswith(sys.argv[1]), thinknet.__file__
    app = thinknet.create_app({"SECRET_KEY": "k", "INSTANCE_PATH": sys.argv[2], "TESTING": True})
    with app.app_context():
        upgrade()
    client = app.test_client()
    login = client.get("/login")
    assert login.status_code == 200 and "Sign in" in login.get_data(as_text=True), login.status_code
    assert client.get("/static/thinknet.css").status_code == 200
    print("served from the wheel")
    """
)


def test_the_wheel_carries_templates_migrations_and_static_files_and_serves(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path / "dist"), str(ROOT)],
        check=True, capture_output=True,
    )
    [wheel] = (tmp_path / "dist").glob("thinknet-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "thinknet/templates/base.html" in names
    assert "thinknet/templates/auth/login.html" in names
    assert "thinknet/migrations/env.py" in names
    assert "thinknet/migrations/versions/0001_initial_schema.py" in names
    assert any(name.startswith("thinknet/static/htmx-2.") for name in names)
    assert not any(name.startswith(("templates/", "migrations/", "tests/")) for name in names)

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    result = subprocess.run(
        [sys.executable, "-c", SMOKE, str(site), str(tmp_path / "instance")],
        capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "served from the wheel" in result.stdout
