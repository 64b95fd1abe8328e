"""Which regions a teardown sweeps: the target's, those the course recorded using, and any asked for."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from .. import config


def regions(extra: Iterable[str] = (), target: config.Target | None = None) -> list[str]:
    """The regions to sweep: the target's, those the course recorded using, and `extra`."""
    chosen = target or config.current()
    found = {chosen.region, *extra}
    try:
        found.update(json.loads(_regions_file(chosen).read_text()))
    except (OSError, ValueError):
        pass
    return sorted(found)


def record_region(region: str, target: config.Target | None = None) -> None:
    """Remember that the course used `region` on a real account, so teardown sweeps it."""
    path = _regions_file(target or config.current())
    try:
        known = set(json.loads(path.read_text()))
    except (OSError, ValueError):
        known = set()
    if region not in known:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(sorted(known | {region})))


def _regions_file(target: config.Target) -> Path:
    return target.home / "aws-regions.json"
