"""What the course owns on a target, by kind: the one reader behind `workshop status`,
`topology` and the teardown's final scan.

It is a view over the teardown's kinds (each knows how to find its own: by the course's
tags where tagging reaches, by the `sbs-` name prefix where it does not) plus whatever else
the tagging API reports as the course's. So what `workshop status` lists is exactly what
`workshop teardown` would delete, and what must be gone after it.
"""

from __future__ import annotations

from collections.abc import Iterable

from . import config, teardown
from .teardown import Resource, tagging
from .teardown.kind import Scope


def course_resources(run_id: str | None = None, target: config.Target | None = None,
                     regions: Iterable[str] | None = None) -> list[Resource]:
    """Every resource of the course (of one run, if given) on the target, in its region (or `regions`),
    sorted by stage, kind and name. Terminated instances are not resources any more."""
    chosen = target or config.current()
    found = teardown.scan(run=run_id, region_list=list(regions or [chosen.region]), target=chosen)
    return sorted(found, key=lambda r: (r.stage, r.kind, r.name, r.id))


def tagged(run_id: str | None = None, target: config.Target | None = None,
           region: str | None = None) -> list[tuple[str, dict[str, str]]]:
    """(ARN, tags) of every resource tagged for the course (one run's) that the tagging API knows."""
    chosen = target or config.current()
    return list(tagging.tagged(Scope(region or chosen.region, run_id, None, chosen)))


__all__ = ["Resource", "course_resources", "tagged"]
