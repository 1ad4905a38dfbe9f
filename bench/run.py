"""`make bench`: builds a small and a big network, serves each with gunicorn as production does, drives it from
wrk on 127.0.0.1 with signed-in members, and reports throughput, latency, queries per request, the ratio to a
bare reference route, and big/small. Results go to bench/results/."""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
WORKERS = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))  # as gunicorn.conf.py
USER_AGENT = "thinknet-bench"
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench.build import PASSWORD, build  # noqa: E402
from bench.pages import CSRF, FEED, PAGES, paths, query_counts  # noqa: E402
from servers import GunicornServer, PostgresCluster, free_port  # noqa: E402
from thinknet import create_app  # noqa: E402

def wrk(url: str, method: str, kind: str, sessions: Path, etag: str, seconds: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", "-s", str(ROOT / "bench" / "load.lua"), url, "--",
         str(sessions), method, kind, etag, USER_AGENT], capture_output=True, text=True, check=True).stdout
    percentile = {m.group(1): m.group(2) for m in re.finditer(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M)}

    def ms(text: str) -> float:
        value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": ms(percentile["50"]),
            "p99": ms(percentile["99"]), "errors": int(errors.group(1)) if errors else 0}


def worker_memory_mb(server: GunicornServer) -> float:
    children = subprocess.run(["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True).stdout.split()
    sizes = []
    for pid in children:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:  # a worker being replaced
            continue
        sizes.append(int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024)
    return max(sizes) if sizes else 0.0


class Site:
    """One size of network, built into its own database and served by gunicorn with signed-in members."""

    def __init__(self, size: str, database_url: str, workdir: Path) -> None:
        self.size, self.database_url, self.workdir = size, database_url, workdir
        self.app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench-key-" + "x" * 40,
                               "INSTANCE_PATH": str(workdir / f"seed-{size}"), "TESTING": True,
                               "RATELIMIT_ENABLED": False})
        with self.app.app_context():
            from flask_migrate import upgrade

            upgrade()
            self.network = build(size)
        self.server = GunicornServer(database_url, workdir / f"live-{size}", workers=WORKERS)
        self.reference = Reference(database_url)

    def start(self) -> None:
        self.server.start()
        self.reference.start()
        lines, feed = [], ""
        for email in self.network.emails:
            session = requests.Session()
            session.headers["User-Agent"] = USER_AGENT  # load.lua sends it too: one browser throughout
            token = CSRF.search(session.get(self.server.url + "/login").text).group(1)
            session.post(self.server.url + "/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
            me = session.get(self.server.url + "/me/", allow_redirects=False)
            if me.status_code != 200:
                raise SystemExit(f"{email} could not sign in to the {self.size} network")
            me = me.text
            feed = feed or FEED.search(me).group(1)
            cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
            lines.append(f"{cookie}\t{CSRF.search(me).group(1)}")
        self.sessions = self.workdir / f"sessions-{self.size}.txt"
        self.sessions.write_text("\n".join(lines) + "\n")
        self.etag = requests.get(self.server.url + feed).headers["ETag"]
        self.urls = paths(self.network, feed)

    def run(self, name: str, method: str, kind: str, seconds: int) -> dict:
        url = self.server.url + self.urls[name][1]
        wrk(url, method, kind, self.sessions, self.etag, 1)  # warm-up, not counted
        return wrk(url, method, kind, self.sessions, self.etag, seconds)

    def stop(self) -> None:
        self.server.stop()
        self.reference.stop()


class Reference:
    """The bare reference app (bench/reference.py) on the same database, under the same gunicorn settings."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, "DATABASE_URL": self.database_url, "PYTHONPATH": str(ROOT)}
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        self.process = subprocess.Popen(
            [gunicorn, "--workers", str(WORKERS), "--bind", f"127.0.0.1:{self.port}", "--access-logfile", "/dev/null",
             "bench.reference:create_app()"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                requests.get(f"http://127.0.0.1:{self.port}/", timeout=10)
                return
            except requests.RequestException:
                time.sleep(0.2)

    def run(self, workdir: Path, seconds: int, warm_up: bool = True) -> dict:
        empty = workdir / "empty.txt"
        empty.write_text("\t\n")
        url = f"http://127.0.0.1:{self.port}/"
        if warm_up:
            wrk(url, "GET", "page", empty, "", 1)
        return wrk(url, "GET", "page", empty, "", seconds)

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default=os.environ.get("DB", "sqlite"))
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_SECONDS", 10)))
    parser.add_argument("--pages", help="only these pages, comma-separated (for a quick look; nothing is written)")
    args = parser.parse_args()
    only = set(args.pages.split(",")) if args.pages else None
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: `make bench` installs it (package wrk).")
    workdir = Path(tempfile.mkdtemp(prefix="thinknet-bench-"))
    cluster = None
    if args.db == "postgres":
        cluster = PostgresCluster()
        cluster.start()
    sites: dict[str, Site] = {}
    try:
        for size in ("small", "big"):
            url = (cluster.create_database(f"bench_{size}") if cluster
                   else f"sqlite:///{workdir / f'bench-{size}.sqlite'}")
            sites[size] = Site(size, url, workdir)
            sites[size].start()
        # Both sizes stay up, and each page runs on each network in two halves, in the order small, big, big,
        # small: the two sizes' halves then sit at the same mean time, so a steady drift of the machine's speed
        # during the page's run cancels out of big/small instead of skewing it.
        # Just before each half, the reference runs on the same network for as long: a virtual machine's speed
        # drifts by tens of percent within minutes, so each page is compared with the reference measured
        # beside it. Throughput and p50 are the halves' mean, p99 the worse half's.
        for site in sites.values():
            site.reference.run(workdir, 1)  # warm-up, not counted
        reference: dict[str, list[float]] = {size: [] for size in sites}
        results: dict[str, dict] = {size: {} for size in sites}
        for name, method, _, kind in PAGES:
            if only and name not in only:
                continue
            halves: dict[str, list[dict]] = {size: [] for size in sites}
            beside: dict[str, list[dict]] = {size: [] for size in sites}
            for size in ("small", "big", "big", "small"):
                site = sites[size]
                beside[size].append(site.reference.run(workdir, max(args.seconds // 2, 1), warm_up=False))
                halves[size].append(site.run(name, method, kind, max(args.seconds // 2, 1)))
            for size, runs in halves.items():
                reference_rps = [r["rps"] for r in beside[size]]
                reference[size] += reference_rps
                results[size][name] = {"rps": sum(r["rps"] for r in runs) / 2, "p50": sum(r["p50"] for r in runs) / 2,
                                       "p99": max(r["p99"] for r in runs), "errors": sum(r["errors"] for r in runs),
                                       "reference_rps": sum(reference_rps) / 2,
                                       "reference_p99": max(r["p99"] for r in beside[size])}
        measured = {size: {"pages": results[size], "memory_mb": worker_memory_mb(site.server),
                           "queries": query_counts(site.app, site.network)} for size, site in sites.items()}
    finally:
        for site in sites.values():
            site.stop()
        if cluster:
            cluster.stop()
    report(args.db, measured, {size: sum(runs) / max(len(runs), 1) for size, runs in reference.items()}, args.seconds,
           write=only is None)


def report(database: str, measured: dict, reference: dict, seconds: int, write: bool = True) -> None:
    big, small = measured["big"], measured["small"]
    lines = [f"# Benchmark, {date.today()}, {database}", "",
             f"Machine: {platform.platform()}, {multiprocessing.cpu_count()} cores, Python {platform.python_version()}; "
             f"gunicorn with {WORKERS} sync workers; wrk -t2 -c16, each page {seconds} s per size "
             f"(two halves per size in the order small, big, big, small, each just after a run of the reference on "
             f"the same network).",
             f"Reference route: {reference['big']:.0f} req/s on the big data, {reference['small']:.0f} on the small "
             f"(mean of all its runs; each page is compared with the runs beside it).",
             f"Largest worker after the run: {big['memory_mb']:.0f} MB resident.", "",
             "The last column is the reference's p99 beside the page: how fast the machine was just then.", "",
             "| page | req/s | p50 ms | p99 ms | queries | × reference | big/small | errors | reference p99 ms |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, *_ in PAGES:
        if name not in big["pages"]:
            continue
        b, s = big["pages"][name], small["pages"][name]
        lines.append(f"| {name} | {b['rps']:.0f} | {b['p50']:.1f} | {b['p99']:.1f} | {big['queries'][name]} "
                     f"(small {small['queries'][name]}) | {b['rps'] / b['reference_rps']:.2f} | "
                     f"{b['rps'] / s['rps']:.2f} | {b['errors']} | {b['reference_p99']:.1f} |")
    text = "\n".join(lines) + "\n"
    if not write:
        print(text)
        return
    out = ROOT / "bench" / "results" / f"{date.today()}-{database}.md"
    out.write_text(text)
    (out.with_suffix(".json")).write_text(json.dumps(
        {size: {"pages": measured[size]["pages"], "queries": measured[size]["queries"],
                "memory_mb": measured[size]["memory_mb"], "reference_rps": reference[size]}
         for size in ("small", "big")}, indent=2))
    print(text)
    print(f"Written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
