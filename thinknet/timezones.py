"""The time zones a group can pick: the zone database's own Area/City names (and UTC), not its legacy aliases."""
from __future__ import annotations

from functools import lru_cache
from zoneinfo import available_timezones

LEGACY = ("Etc/", "SystemV/", "US/", "Canada/", "Mexico/", "Brazil/", "Chile/")


@lru_cache(maxsize=1)
def pickable_zones() -> tuple[str, ...]:
    return tuple(sorted(zone for zone in available_timezones()
                        if zone == "UTC" or ("/" in zone and not zone.startswith(LEGACY))))
