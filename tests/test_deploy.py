"""A deploy really deploys: deploy/reload loads new code into a running gunicorn (the app is preloaded, so a
HUP would keep the old code) while members keep using the site, and no request fails."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from servers import GunicornServer

ROOT = Path(__file__).resolve().parent.parent


def release_of_this_code(folder: Path) -> Path:
    """A copy of the code as a release folder, which the server runs from (PYTHONPATH)."""
    for name in ("thinknet", "templates", "migrations"):
        shutil.copytree(ROOT / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def set_version(release: Path, version: str) -> None:
    init = release / "thinknet" / "__init__.py"
    text = init.read_text()
    start = text.index('__version__ = "')
    end = text.index('"', start + len('__version__ = "'))
    init.write_text(text[:start] + f'__version__ = "{version}' + text[end:])


def test_deploy_reload_serves_new_code_under_load_without_a_failed_request(tmp_path, database_url):
    release = release_of_this_code(tmp_path / "release")
    set_version(release, "1.0.0-old")
    server = GunicornServer(database_url, tmp_path / "instance", workers=2, PYTHONPATH=str(release))
    server.start()
    pidfile = tmp_path / "instance" / "gunicorn.pid"
    failures: list[str] = []
    versions: list[tuple[float, str]] = []  # (when the request was sent, the version that answered)
    stop = threading.Event()

    def members_using_the_site() -> None:
        while not stop.is_set():
            for path in ("/healthz", "/login"):
                sent = time.monotonic()
                try:
                    with urllib.request.urlopen(server.url + path, timeout=10) as response:
                        if path == "/healthz":
                            versions.append((sent, json.loads(response.read())["version"]))
                except (urllib.error.URLError, OSError) as error:
                    failures.append(f"{path}: {error}")

    load = [threading.Thread(target=members_using_the_site) for _ in range(3)]
    try:
        for thread in load:
            thread.start()
        time.sleep(1)
        set_version(release, "1.0.1-new")
        env = {**os.environ, "THINKNET_INSTANCE_PATH": str(tmp_path / "instance")}
        reload = subprocess.run([str(ROOT / "deploy" / "reload")], env=env, capture_output=True, text=True,
                                timeout=90)
        assert reload.returncode == 0, reload.stderr
        reloaded = time.monotonic()
        time.sleep(1)
    finally:
        stop.set()
        for thread in load:
            thread.join(timeout=20)
        master = int(pidfile.read_text()) if pidfile.exists() else None
        if master:
            # The new master has its own control socket: the old one removed only its own on leaving.
            assert (tmp_path / "instance" / f"gunicorn.{master}.ctl").is_socket()
            os.kill(master, 15)
        server.stop()
    assert failures == []
    assert versions[0][1] == "1.0.0-old"
    after = [version for sent, version in versions if sent > reloaded]
    assert after and set(after) == {"1.0.1-new"}
    assert "serves the new code" in reload.stdout


def test_deploy_reload_of_code_that_cannot_start_fails_at_once_and_the_old_code_keeps_serving(tmp_path,
                                                                                           database_url):
    release = release_of_this_code(tmp_path / "release")
    set_version(release, "1.0.0-old")
    server = GunicornServer(database_url, tmp_path / "instance", workers=2, PYTHONPATH=str(release))
    server.start()
    pidfile = tmp_path / "instance" / "gunicorn.pid"
    try:
        old = int(pidfile.read_text())
        init = release / "thinknet" / "__init__.py"
        init.write_text(init.read_text() + "\nthis is not Python\n")  # a release that cannot even import
        env = {**os.environ, "THINKNET_INSTANCE_PATH": str(tmp_path / "instance")}
        started = time.monotonic()
        reload = subprocess.run([str(ROOT / "deploy" / "reload")], env=env, capture_output=True, text=True,
                                timeout=90)
        assert reload.returncode == 1 and "the old code still serves" in reload.stderr, reload.stderr
        assert time.monotonic() - started < 15  # not the whole 30 s timeout
        assert int(pidfile.read_text()) == old
        with urllib.request.urlopen(server.url + "/healthz", timeout=10) as response:
            assert json.loads(response.read())["version"] == "1.0.0-old"
    finally:
        server.stop()
