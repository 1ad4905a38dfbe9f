"""URL converters: an <int:...> in any route matches only ids the database's integer columns can hold."""
from __future__ import annotations

from typing import Any

from flask import abort, request
from werkzeug.routing import IntegerConverter

# PostgreSQL's INTEGER (and SQLite's rowid within it): 2**31 - 1.
MAX_ID = 2**31 - 1


class BoundedInt(IntegerConverter):
    """Werkzeug's int converter, with 1 .. 2**31 - 1 as the default range."""

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = 1, max: int | None = MAX_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


# No group has this many pages of anything; beyond it a page number is a probe, answered 404.
MAX_PAGE = 100_000


def page_number() -> int:
    """The ``?page=`` of a paged list: 1 when absent or not a number, 404 when out of range."""
    page = request.args.get("page", 1, type=int)
    if page < 1 or page > MAX_PAGE:
        abort(404)
    return page
