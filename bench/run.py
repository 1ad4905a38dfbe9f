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
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench.build import PASSWORD, build  # noqa: E402
from bench.pages import CSRF, FEED, PAGES, paths, query_counts  # noqa: E402
from servers import GunicornServer, PostgresCluster, free_port  # noqa: E402
from thinknet import create_app  # noqa: E402

def wrk(url: str, method: str, kind: str, sessions: Path, etag: str, seconds: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", "-s", str(ROOT / "bench" / "load.lua"), url, "--",
         str(sessions), method, kind, etag], capture_output=True, text=True, check=True).stdout
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
        status = Path(f"/proc/{pid}/status").read_text()
        sizes.append(int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024)
    return max(sizes) if sizes else 0.0


def measure(size: str, database_url: str, workdir: Path, seconds: int) -> dict:
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench-key-" + "x" * 40,
                      "INSTANCE_PATH": str(workdir / f"seed-{size}"), "TESTING": True, "RATELIMIT_ENABLED": False})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        network = build(size)
    workers = multiprocessing.cpu_count() * 2 + 1
    server = GunicornServer(database_url, workdir / f"live-{size}", workers=workers)
    server.start()
    try:
        lines, feed = [], ""
        for email in network.emails:
            session = requests.Session()
            token = CSRF.search(session.get(server.url + "/login").text).group(1)
            session.post(server.url + "/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
            me = session.get(server.url + "/me/").text
            feed = feed or FEED.search(me).group(1)
            cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
            lines.append(f"{cookie}\t{CSRF.search(me).group(1)}")
        sessions = workdir / f"sessions-{size}.txt"
        sessions.write_text("\n".join(lines) + "\n")
        etag = requests.get(server.url + feed).headers["ETag"]
        urls = paths(network, feed)
        results = {}
        for name, method, _, kind in PAGES:
            wrk(server.url + urls[name][1], method, kind, sessions, etag, 1)  # warm-up, not counted
            results[name] = wrk(server.url + urls[name][1], method, kind, sessions, etag, seconds)
        memory = worker_memory_mb(server)
        counts = query_counts(app, network)
    finally:
        server.stop()
    return {"pages": results, "queries": counts, "memory_mb": memory}


def reference_rps(database_url: str, workdir: Path, seconds: int) -> float:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    process = subprocess.Popen([gunicorn, "--workers", str(multiprocessing.cpu_count() * 2 + 1), "--bind",
                                f"127.0.0.1:{port}", "bench.reference:create_app()"], env=env, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                requests.get(f"http://127.0.0.1:{port}/", timeout=10)
                break
            except requests.RequestException:
                time.sleep(0.2)
        empty = workdir / "empty.txt"
        empty.write_text("\t\n")
        return wrk(f"http://127.0.0.1:{port}/", "GET", "page", empty, "", seconds)["rps"]
    finally:
        process.terminate()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default=os.environ.get("DB", "sqlite"))
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_SECONDS", 10)))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: `make bench` installs it (package wrk).")
    workdir = Path(tempfile.mkdtemp(prefix="thinknet-bench-"))
    cluster = None
    if args.db == "postgres":
        cluster = PostgresCluster()
        cluster.start()
    try:
        measured, reference = {}, {}
        for size in ("small", "big"):
            url = (cluster.create_database(f"bench_{size}") if cluster
                   else f"sqlite:///{workdir / f'bench-{size}.sqlite'}")
            measured[size] = measure(size, url, workdir, args.seconds)
            reference[size] = reference_rps(url, workdir, args.seconds)
    finally:
        if cluster:
            cluster.stop()
    report(args.db, measured, reference, args.seconds)


def report(database: str, measured: dict, reference: dict, seconds: int) -> None:
    big, small = measured["big"], measured["small"]
    lines = [f"# Benchmark, {date.today()}, {database}", "",
             f"Machine: {platform.platform()}, {multiprocessing.cpu_count()} cores, Python {platform.python_version()}; "
             f"gunicorn with {multiprocessing.cpu_count() * 2 + 1} sync workers; wrk -t2 -c16 -d{seconds}s.",
             f"Reference route: {reference['big']:.0f} req/s on the big data, {reference['small']:.0f} on the small.",
             f"Largest worker after the run: {big['memory_mb']:.0f} MB resident.", "",
             "| page | req/s | p50 ms | p99 ms | queries | × reference | big/small | errors |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, *_ in PAGES:
        b, s = big["pages"][name], small["pages"][name]
        lines.append(f"| {name} | {b['rps']:.0f} | {b['p50']:.1f} | {b['p99']:.1f} | {big['queries'][name]} "
                     f"(small {small['queries'][name]}) | {b['rps'] / reference['big']:.2f} | "
                     f"{b['rps'] / s['rps']:.2f} | {b['errors']} |")
    text = "\n".join(lines) + "\n"
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
