"""Every page the benchmark drives sends the same number of SQL statements on the benchmark's big network (five
years of a full group) as on its small one (a young group): the cost of a page does not grow with history."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.build import build
from bench.pages import PAGES, query_counts
from conftest import app_config, migrate_to_head
from thinknet import create_app
from thinknet.extensions import db


@pytest.fixture
def network_databases(migrated_database: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    """An empty migrated database for each size."""
    if migrated_database.startswith("sqlite"):
        template = Path(migrated_database.removeprefix("sqlite:///"))
        urls = {}
        for size in ("small", "big"):
            shutil.copy(template, tmp_path / f"{size}.sqlite")
            urls[size] = f"sqlite:///{tmp_path / f'{size}.sqlite'}"
        return urls
    cluster = request.getfixturevalue("postgres")
    urls = {size: cluster.create_database(f"bench_{size}") for size in ("small", "big")}
    for url in urls.values():
        migrate_to_head(url, tmp_path / "migrate")
    return urls


def test_every_benchmarked_page_takes_as_many_queries_on_five_years_as_on_four_weeks(network_databases, tmp_path):
    counts = {}
    for size, url in network_databases.items():
        app = create_app(app_config(tmp_path / f"instance-{size}", url))
        with app.app_context():
            network = build(size)
        counts[size] = query_counts(app, network)
        with app.app_context():
            db.engine.dispose()
    assert set(counts["big"]) == {name for name, *_ in PAGES}
    assert counts["big"] == counts["small"]
    # A page needs few statements whatever it shows: none above a dozen.
    assert max(counts["big"].values()) <= 12, counts["big"]
