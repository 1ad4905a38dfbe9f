"""Real servers for the tests: a throwaway PostgreSQL cluster and an SMTP server that keeps what it receives."""
from __future__ import annotations

import asyncio
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    raise RuntimeError("PostgreSQL's server binaries are missing; `make test` installs them (package postgresql).")


class PostgresCluster:
    """initdb + pg_ctl in a temporary folder, listening on 127.0.0.1 only; run as `postgres` when we are root."""

    def __init__(self) -> None:
        self.bin = postgres_bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="thinknet-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_user = "postgres" if os.geteuid() == 0 else None

    def _run(self, *args: str) -> None:
        subprocess.run(
            [str(self.bin / args[0]), *args[1:]], check=True, capture_output=True,
            user=self.as_user, group=self.as_user, cwd=self.root,
        )

    def start(self) -> str:
        if self.as_user:
            shutil.chown(self.root, self.as_user, self.as_user)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        self.resume()
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"

    def pause(self) -> None:
        """Stops the server, keeping its data: an outage."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def resume(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options, "-w", "start")

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            # FORCE: a connection closed a moment ago may still be on its way out of the server.
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        except subprocess.CalledProcessError:
            pass  # stopped already (a test's outage)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: Message


@dataclass
class _Collector:
    received: list[ReceivedMail] = field(default_factory=list)
    # Recipients refused as unknown, the way a real server bounces a bad address.
    refuse: set[str] = field(default_factory=set)
    # Cleared, it holds every message until set again: a slow mail server.
    gate: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.gate.set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        await asyncio.get_running_loop().run_in_executor(None, self.gate.wait, 30)
        self.received.append(
            ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content))
        )
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on 127.0.0.1, collecting every message it is sent."""

    def __init__(self) -> None:
        self.port = free_port()
        self._collector = _Collector()
        self._controller = Controller(self._collector, hostname="127.0.0.1", port=self.port)

    @property
    def received(self) -> list[ReceivedMail]:
        return self._collector.received

    @property
    def refuse(self) -> set[str]:
        return self._collector.refuse

    @property
    def gate(self) -> threading.Event:
        return self._collector.gate

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._collector.gate.set()
        self._controller.stop(no_assert=True)  # a server the test never started (mail down throughout)


class GunicornServer:
    """The app served by gunicorn with several worker processes on 127.0.0.1, as in production."""

    def __init__(self, database_url: str, instance: Path, workers: int = 4, **env: str) -> None:
        self.port = free_port()
        self.instance = instance
        self.access_log = instance / "access.log"
        self.error_log = instance / "error.log"
        self.stderr = instance / "stderr.log"  # what is said before gunicorn's own log is open
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "THINKNET_INSTANCE_PATH": str(instance),
            "DATABASE_URL": database_url,
            "THINKNET_SECRET_KEY": "a-shared-key-for-all-workers-0123456789abcdef",
            "THINKNET_BASE_URL": self.url,
            "THINKNET_REPLY_ADDRESS": "breakfast@example.org",
            # Many members sign in from one address; cheap hashing keeps sign-in fast in the test.
            "THINKNET_RATELIMIT_ENABLED": "false",
            "THINKNET_PASSWORD_HASH_TIME_COST": "1",
            "THINKNET_PASSWORD_HASH_MEMORY_COST": "1024",
            "THINKNET_PASSWORD_HASH_PARALLELISM": "1",
            **env,
        }
        self.workers = workers
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        import sys
        import time
        import urllib.request

        self.instance.mkdir(parents=True, exist_ok=True)
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        config = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"
        # The production settings file, with the address, workers and log files of this test.
        with self.stderr.open("ab") as stderr:
            self.process = subprocess.Popen(
                [gunicorn, "--config", str(config), "--workers", str(self.workers), "--bind",
                 f"127.0.0.1:{self.port}", "--timeout", "60", "--access-logfile", str(self.access_log),
                 "--error-logfile", str(self.error_log)],
                env=self.env, stdout=subprocess.DEVNULL, stderr=stderr,
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2):
                    return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    said = [path.read_text() for path in (self.stderr, self.error_log) if path.exists()]
                    raise RuntimeError("gunicorn did not start:\n" + "\n".join(said))
                time.sleep(0.2)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


class RedisServer:
    """A throwaway redis-server on 127.0.0.1, keeping nothing on disk."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        import time

        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is missing; `make test` installs it (package redis-server).")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                    connection.sendall(b"PING\r\n")
                    if connection.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


class DovecotServer:
    """Debian's Dovecot as a throwaway IMAP server on 127.0.0.1: IMAPS with its own certificate authority, one
    account, maildirs in a temporary folder. Messages are delivered into it with IMAP APPEND, as a mail server
    would file them."""

    USER = "breakfast@example.org"
    PASSWORD = "a-mailbox-password"

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="thinknet-imap-"))
        self.port = free_port()
        self.plain_port = free_port()
        self.ca_file = self.root / "ca.pem"
        self.process: subprocess.Popen | None = None

    def _certificates(self) -> None:
        def openssl(*args: str) -> None:
            subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=self.root)

        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=thinknet test CA",
                "-keyout", "ca-key.pem", "-out", "ca.pem", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "key.pem",
                "-out", "server.csr")
        (self.root / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
                "-days", "2", "-out", "cert.pem", "-extfile", "san.ext")

    def start(self) -> None:
        import grp
        import pwd
        import time

        binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        if not Path(binary).exists():
            raise RuntimeError("dovecot is missing; `make test` installs it (package dovecot-imapd).")
        self._certificates()
        # Dovecot's login and mail processes never run as root: as root, they run as the package's own users.
        root = os.geteuid() == 0
        login_user = "dovenull" if root else pwd.getpwuid(os.geteuid()).pw_name
        user = "dovecot" if root else login_user
        group = grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name
        uid, gid = pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid
        (self.root / "users").write_text(f"{self.USER}:{{PLAIN}}{self.PASSWORD}::::::\n")
        (self.root / "home").mkdir()
        if root:
            self.root.chmod(0o711)  # its users reach the account file and the maildirs, and list nothing
            (self.root / "users").chmod(0o644)
            shutil.chown(self.root / "home", user, group)
        config = self.root / "dovecot.conf"
        config.write_text(f"""
base_dir = {self.root}/run
state_dir = {self.root}/state
log_path = {self.root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{self.root}/cert.pem
ssl_key = <{self.root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {user}
default_internal_group = {group}
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={self.root}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.plain_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    user = {user}
  }}
  unix_listener stats-writer {{
    user = {user}
  }}
}}
""")
        self.process = subprocess.Popen([binary, "-F", "-c", str(config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.root / "dovecot.log").read_text() if (self.root / "dovecot.log").exists() else ""
                raise RuntimeError(f"dovecot did not start: {self.process.stderr.read().decode()} {log}")
            time.sleep(0.1)

    def client(self):
        import ssl

        from imapclient import IMAPClient

        client = IMAPClient("127.0.0.1", port=self.port, ssl=True,
                            ssl_context=ssl.create_default_context(cafile=str(self.ca_file)), timeout=10)
        client.login(self.USER, self.PASSWORD)
        return client

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        client = self.client()
        try:
            client.append(folder, raw)
        finally:
            client.logout()

    def folder(self, name: str) -> list[bytes]:
        """The messages in a folder (absent: none), oldest first."""
        client = self.client()
        try:
            if not client.folder_exists(name):
                return []
            client.select_folder(name, readonly=True)
            uids = client.search(["ALL"])
            return [data[b"BODY[]"] for _, data in sorted(client.fetch(uids, ["BODY.PEEK[]"]).items())]
        finally:
            client.logout()

    def config(self) -> dict[str, object]:
        return {"IMAP_HOST": "127.0.0.1", "IMAP_PORT": self.port, "IMAP_USER": self.USER,
                "IMAP_PASSWORD": self.PASSWORD, "IMAP_SECURITY": "ssl", "IMAP_CA_FILE": str(self.ca_file)}

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)
