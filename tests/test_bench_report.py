"""The benchmark's report: each page and the mixed load against the reference run beside them, and the targets
it names when they are missed."""
from __future__ import annotations

from bench.pages import PAGES
from bench.run import report


def measured(cached_rps: float, uncached_rps: float, reference_rps: float, post_p99: float = 20.0) -> dict:
    run = {"p50": 10.0, "p99": 20.0, "errors": 0}
    page = {"cached": {**run, "rps": cached_rps}, "uncached": {**run, "rps": uncached_rps},
            "reference": {"rps": reference_rps, "p99": 15.0}}
    mix = {**run, "rps": uncached_rps, "reads": {"rps": uncached_rps * 0.9, "p99": 20.0},
           "posts": {"rps": uncached_rps * 0.1, "p99": post_p99}}
    return {"pages": {name: page for name, *_ in PAGES},
            "mixed": {"cached": mix, "uncached": mix, "reference": {"rps": reference_rps, "p99": 15.0}},
            "queries": {"small": {name: 3 for name, *_ in PAGES}, "big": {name: 3 for name, *_ in PAGES}},
            "memory_mb": 70.0}


def test_each_page_is_compared_with_the_reference_run_beside_it(capsys):
    report("sqlite", measured(900, 400, 500), 10, write=False)
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| dashboard |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[2] == "1.80" and cells[4] == "0.80"  # cached and cache missing, over the 500 beside them
    assert cells[6] == "15.0"  # the reference's p99 beside the page
    assert "Targets missed: none." in out


def test_a_missed_target_is_named(capsys):
    report("sqlite", measured(900, 200, 500, post_p99=30.0), 10, write=False)
    out = capsys.readouterr().out
    assert "dashboard with the cache missing: 0.40× (target 0.8×)" in out
    assert "topics with the cache missing: 0.40× (target 0.5×)" in out
    assert "posts' p99 in the mixed load, cache on: 2.00× the reference's (limit 1.5×)" in out
