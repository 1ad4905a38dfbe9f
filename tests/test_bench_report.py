"""The benchmark's report: each page against the reference run beside it."""
from __future__ import annotations

from bench.pages import PAGES
from bench.run import report


def measured(page_rps: float, reference_rps: float) -> dict:
    page = {"rps": page_rps, "p50": 10.0, "p99": 20.0, "errors": 0, "reference_rps": reference_rps,
            "reference_p99": 15.0}
    return {"pages": {name: dict(page) for name, *_ in PAGES}, "memory_mb": 70.0,
            "queries": {name: 3 for name, *_ in PAGES}}


def test_each_page_is_compared_with_the_reference_run_beside_it(capsys):
    # The reference's mean over the whole run was 600, but beside this page it did 500.
    report("sqlite", {"big": measured(400, 500), "small": measured(500, 625)}, {"big": 600, "small": 625}, 10,
           write=False)
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| dashboard |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[5] == "0.80"  # × reference: 400 over the 500 beside it
    assert cells[6] == "0.80"  # big/small
    assert cells[8] == "15.0"  # the reference's p99 beside the page
