"""`make bench`: the app under the load a real group puts on it, measured from outside against a bare reference
route on the same machine in the same run.

It builds a big network (150 active members, five years) and a small one, serves the big one with gunicorn as
production does (gunicorn.conf.py) twice, with the page cache and without it, and drives both from wrk on
127.0.0.1 as all 149 signed-in members, rotating:

- each page on its own, cache hit and cache missing, posts sent as htmx sends them;
- the mixed load of a writing group: 16 connections, 14 reading the pages members open most and 2 posting
  RSVPs and "me too" (about 90% reads), with the cache and without it.

Each measurement sits between two runs of the reference on the same database, and is reported as a ratio to
them; statements per request are counted in-process on the small and the big network. Results go to
bench/results/.
"""
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
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
WORKERS = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))  # as gunicorn.conf.py
USER_AGENT = "thinknet-bench"
CONNECTIONS = 16
POSTING_CONNECTIONS = 2
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench.build import PASSWORD, build  # noqa: E402
from bench.pages import CSRF, FEED, MIX_READS, NEVER_CACHED, PAGES, POSTS, paths, query_counts  # noqa: E402
from servers import GunicornServer, PostgresCluster, free_port  # noqa: E402
from thinknet import create_app  # noqa: E402

# Targets (issue 17), as ratios to the reference measured beside each run.
UNCACHED_TARGET, MAIN_PAGES_TARGET, CACHED_TARGET, MIX_TARGET, POST_P99_LIMIT = 0.5, 0.8, 0.8, 0.5, 1.5
MAIN_PAGES = ("dashboard", "meeting")


def wrk(url: str, sessions: Path, requests_file: Path, etag: str, seconds: int, threads: int = 2,
        connections: int = CONNECTIONS) -> dict:
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s",
         str(ROOT / "bench" / "mix.lua"), url, "--", str(sessions), str(requests_file), etag, USER_AGENT, url],
        capture_output=True, text=True, check=True).stdout
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


class Reference:
    """The bare reference app (bench/reference.py) on the same database, under the same gunicorn settings."""

    def __init__(self, database_url: str, workdir: Path) -> None:
        self.database_url, self.workdir = database_url, workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, "DATABASE_URL": self.database_url, "PYTHONPATH": str(ROOT)}
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        self.process = subprocess.Popen(
            [gunicorn, "--workers", str(WORKERS), "--bind", f"127.0.0.1:{self.port}", "--access-logfile", "/dev/null",
             "bench.reference:create_app()"],
            # Started away from the site's gunicorn.conf.py (gunicorn reads one in its working folder), which
            # preloads the site's own app: the reference is a bare Flask app.
            env=env, cwd=ROOT / "bench", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                requests.get(self.url, timeout=10)
                break
            except requests.RequestException:
                time.sleep(0.2)
        self.sessions = self.workdir / "reference-sessions.txt"
        self.sessions.write_text("\t\n")
        self.requests = self.workdir / "reference-requests.txt"
        self.requests.write_text("GET\t/\tpage\n")

    def run(self, seconds: int) -> dict:
        return wrk(self.url, self.sessions, self.requests, "", seconds)

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait()


class Network:
    """The big network, built once, served by gunicorn with the page cache and without it, with every active
    member but the organizer signed in."""

    def __init__(self, database_url: str, workdir: Path) -> None:
        self.workdir = workdir
        self.app = seeded_app(database_url, workdir / "seed-big")
        with self.app.app_context():
            self.network = build("big")
        self.servers = {"cached": GunicornServer(database_url, workdir / "live-cached", workers=WORKERS),
                        "uncached": GunicornServer(database_url, workdir / "live-uncached", workers=WORKERS,
                                                   THINKNET_PAGE_CACHE_BYTES="0")}
        self.reference = Reference(database_url, workdir)

    def start(self) -> None:
        for server in self.servers.values():
            server.start()
        self.reference.start()
        server = self.servers["cached"]  # one secret key and one database: the sessions hold on both servers

        def sign_in(email: str) -> tuple[str, str]:
            session = requests.Session()
            session.headers["User-Agent"] = USER_AGENT  # mix.lua sends it too: one browser throughout
            token = CSRF.search(session.get(server.url + "/login").text).group(1)
            session.post(server.url + "/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
            me = session.get(server.url + "/me/", allow_redirects=False)
            if me.status_code != 200:
                raise SystemExit(f"{email} could not sign in")
            cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
            return f"{cookie}\t{CSRF.search(me.text).group(1)}", FEED.search(me.text).group(1)

        with ThreadPoolExecutor(8) as pool:
            signed_in = list(pool.map(sign_in, self.network.emails))
        self.sessions = self.workdir / "sessions.txt"
        self.sessions.write_text("\n".join(line for line, _ in signed_in) + "\n")
        self.feed = signed_in[0][1]
        # The feed's ETag names the server's own address (BASE_URL), so each server has its own.
        self.etags = {name: requests.get(each.url + self.feed).headers["ETag"] for name, each in self.servers.items()}
        self.paths = paths(self.network, self.feed)

    def requests_file(self, name: str, lines: list[tuple[str, str, str]]) -> Path:
        path = self.workdir / f"requests-{name.replace(' ', '-')}.txt"
        path.write_text("".join(f"{method}\t{url}\t{kind}\n" for method, url, kind in lines))
        return path

    def page(self, server: str, name: str, seconds: int) -> dict:
        requests_file = self.requests_file(name, [self.paths[name]])
        url, etag = self.servers[server].url, self.etags[server]
        wrk(url, self.sessions, requests_file, etag, 1)  # warm-up, not counted
        return wrk(url, self.sessions, requests_file, etag, seconds)

    def mix(self, server: str, seconds: int) -> dict:
        """The writing group's load: readers and posters at once, each measured by its own wrk."""
        reads = [line for name, weight in MIX_READS.items() if name != "profile" for line in [self.paths[name]] * weight]
        reads += [paths(self.network, self.feed, self.network.member_ids[n * 37])["profile"]
                  for n in range(MIX_READS["profile"])]  # profiles of members far apart in the tree
        posts = [self.paths[name] for name in POSTS]
        url = self.servers[server].url
        reads_file, posts_file = self.requests_file("mix-reads", reads), self.requests_file("mix-posts", posts)
        with ThreadPoolExecutor(2) as pool:
            reading = pool.submit(wrk, url, self.sessions, reads_file, "", seconds, 2,
                                  CONNECTIONS - POSTING_CONNECTIONS)
            posting = pool.submit(wrk, url, self.sessions, posts_file, "", seconds, 1, POSTING_CONNECTIONS)
            read, post = reading.result(), posting.result()
        return {"rps": read["rps"] + post["rps"], "p50": read["p50"], "p99": max(read["p99"], post["p99"]),
                "reads": read, "posts": post, "errors": read["errors"] + post["errors"]}

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.reference.stop()


def seeded_app(database_url: str, instance: Path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench-key-" + "x" * 40,
                      "INSTANCE_PATH": str(instance), "TESTING": True, "RATELIMIT_ENABLED": False})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
    return app


def beside_reference(site: Network, seconds: int, runs: list) -> dict:
    """Runs each measurement in two halves in the order given and then reversed, with the reference before
    the first half and after the second: a steady drift of the machine's speed then cancels out of each ratio.
    Throughput and p50 are the halves' mean, p99 the worse half's; the reference likewise."""
    half = max(seconds // 2, 1)
    reference = [site.reference.run(half)]
    halves: dict[str, list[dict]] = {key: [] for key, _ in runs}
    for key, measure in runs:
        halves[key].append(measure(half))
    for key, measure in reversed(runs):
        halves[key].append(measure(half))
    reference.append(site.reference.run(half))
    combined = {}
    for key, results in halves.items():
        combined[key] = {"rps": sum(r["rps"] for r in results) / 2, "p50": sum(r["p50"] for r in results) / 2,
                         "p99": max(r["p99"] for r in results), "errors": sum(r["errors"] for r in results)}
        if "posts" in results[0]:
            for part in ("reads", "posts"):
                combined[key][part] = {"rps": sum(r[part]["rps"] for r in results) / 2,
                                       "p99": max(r[part]["p99"] for r in results)}
    combined["reference"] = {"rps": sum(r["rps"] for r in reference) / 2, "p99": max(r["p99"] for r in reference)}
    return combined


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default=os.environ.get("DB", "sqlite"))
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_SECONDS", 10)))
    parser.add_argument("--pages", help="only these pages, comma-separated (for a quick look; nothing is written)")
    parser.add_argument("--label", default=os.environ.get("BENCH_LABEL", ""), help="added to the result's name")
    args = parser.parse_args()
    only = set(args.pages.split(",")) if args.pages else None
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: `make bench` installs it (package wrk).")
    workdir = Path(tempfile.mkdtemp(prefix="thinknet-bench-"))
    cluster = None
    if args.db == "postgres":
        cluster = PostgresCluster()
        cluster.start()

    def database(size: str) -> str:
        return cluster.create_database(f"bench_{size}") if cluster else f"sqlite:///{workdir / f'bench-{size}.sqlite'}"

    site = None
    try:
        small = seeded_app(database("small"), workdir / "seed-small")
        with small.app_context():
            small_network = build("small")
        queries = {"small": query_counts(small, small_network)}
        site = Network(database("big"), workdir)
        queries["big"] = query_counts(site.app, site.network)
        site.start()
        site.reference.run(2)  # warm-up, not counted
        pages = {}
        for name, *_ in PAGES:
            if only and name not in only:
                continue
            pages[name] = beside_reference(site, args.seconds, [
                ("cached", lambda s, name=name: site.page("cached", name, s)),
                ("uncached", lambda s, name=name: site.page("uncached", name, s))])
        mixed = None if only else beside_reference(site, args.seconds * 3, [
            ("cached", lambda s: site.mix("cached", s)), ("uncached", lambda s: site.mix("uncached", s))])
        memory = worker_memory_mb(site.servers["cached"])
    finally:
        if site is not None:
            site.stop()
        if cluster:
            cluster.stop()
    report(args.db, {"pages": pages, "mixed": mixed, "queries": queries, "memory_mb": memory}, args.seconds,
           label=args.label, write=only is None)


def ratio(page: dict, reference: dict) -> float:
    return page["rps"] / reference["rps"]


def report(database: str, measured: dict, seconds: int, label: str = "", write: bool = True) -> None:
    pages, mixed, queries = measured["pages"], measured["mixed"], measured["queries"]
    lines = [f"# Benchmark, {date.today()}, {database}{', ' + label if label else ''}", "",
             f"Machine: {platform.platform()}, {multiprocessing.cpu_count()} cores, Python {platform.python_version()}; "
             f"gunicorn with {WORKERS} sync workers (gunicorn.conf.py); wrk with {CONNECTIONS} connections as 149 "
             f"signed-in members, rotating. The big network: 150 active members, five years. Each page {seconds} s "
             f"with the page cache and {seconds} s without, in halves, between two runs of the reference; posts as "
             f"htmx sends them. Largest worker after the run: {measured['memory_mb']:.0f} MB resident.", "",
             "| page | cached req/s | × ref | cache missing req/s | × ref | p99 ms cached / missing | ref p99 ms "
             "| queries small / big | errors |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    misses = []
    for name, *_ in PAGES:
        if name not in pages:
            continue
        row = pages[name]
        cached, uncached, reference = row["cached"], row["uncached"], row["reference"]
        target = MAIN_PAGES_TARGET if name in MAIN_PAGES else UNCACHED_TARGET
        if name not in POSTS and ratio(uncached, reference) < target:
            misses.append(f"{name} with the cache missing: {ratio(uncached, reference):.2f}× (target {target}×)")
        if name not in POSTS + NEVER_CACHED and ratio(cached, reference) < CACHED_TARGET:
            misses.append(f"{name} cached: {ratio(cached, reference):.2f}× (target {CACHED_TARGET}×)")
        lines.append(f"| {name} | {cached['rps']:.0f} | {ratio(cached, reference):.2f} | {uncached['rps']:.0f} | "
                     f"{ratio(uncached, reference):.2f} | {cached['p99']:.1f} / {uncached['p99']:.1f} | "
                     f"{reference['p99']:.1f} | {queries['small'][name]} / {queries['big'][name]} | "
                     f"{cached['errors'] + uncached['errors']} |")
    if mixed:
        reference = mixed["reference"]
        lines += ["", f"Mixed load, {seconds * 3} s each: {CONNECTIONS - POSTING_CONNECTIONS} connections reading "
                  f"({', '.join(f'{name} ×{weight}' for name, weight in MIX_READS.items())}), {POSTING_CONNECTIONS} "
                  f"posting RSVPs and \"me too\" as htmx does; the reference beside it: {reference['rps']:.0f} req/s, "
                  f"p99 {reference['p99']:.1f} ms.", "",
                  "| page cache | req/s | × ref | posts | reads p99 ms | posts p99 ms | posts p99 / ref p99 | errors |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for key in ("cached", "uncached"):
            run = mixed[key]
            share = run["posts"]["rps"] / run["rps"]
            post_p99 = run["posts"]["p99"] / reference["p99"]
            lines.append(f"| {'on' if key == 'cached' else 'off'} | {run['rps']:.0f} | {ratio(run, reference):.2f} | "
                         f"{share:.0%} | {run['reads']['p99']:.1f} | {run['posts']['p99']:.1f} | {post_p99:.2f} | "
                         f"{run['errors']} |")
            if ratio(run, reference) < MIX_TARGET:
                misses.append(f"mixed load, cache {'on' if key == 'cached' else 'off'}: {ratio(run, reference):.2f}× "
                              f"(target {MIX_TARGET}×)")
            if post_p99 > POST_P99_LIMIT:
                misses.append(f"posts' p99 in the mixed load, cache {'on' if key == 'cached' else 'off'}: "
                              f"{post_p99:.2f}× the reference's (limit {POST_P99_LIMIT}×)")
    lines += ["", "Targets missed: " + ("; ".join(misses) if misses else "none") + "."]
    text = "\n".join(lines) + "\n"
    if not write:
        print(text)
        return
    out = ROOT / "bench" / "results" / f"{date.today()}-{database}{'-' + label if label else ''}.md"
    out.write_text(text)
    out.with_suffix(".json").write_text(json.dumps(measured, indent=2))
    print(text)
    print(f"Written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
