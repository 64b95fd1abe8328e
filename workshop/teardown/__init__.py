"""Teardown: delete everything the course created, in dependency order, then prove it is gone.

What belongs to the course: anything tagged `workshop:course=scale-baby-scale` (narrowed to
one run or one stage when asked), plus, where tags do not reach or a create was
interrupted before tagging, anything named with the course prefix `sbs-` (`sbs-<run>-`).
Untagged, prefix-named resources are included in a course or run teardown, never in a
stage teardown (their stage is unknown).

The engine (`engine`) knows no service; each service's module (`ec2`, `rds`, ...) declares
its kinds: their wave, how to find, delete and confirm each gone (`registry` orders them).
On the aws target, RDS instances are deleted without a final snapshot: the course's
databases hold only demo data, and the `--yes` that starts the teardown is the consent.
"""

from __future__ import annotations

from .engine import find, plan, scan, teardown, teardown_stage
from .kind import GLOBAL_REGION, Kind, Resource, Scope
from .regions import record_region, regions
from .registry import KINDS, TRACKED_SERVICES, WAVES
from .report import Blocker, Report, summary_line, table

__all__ = ["GLOBAL_REGION", "KINDS", "TRACKED_SERVICES", "WAVES", "Blocker", "Kind", "Report", "Resource", "Scope",
           "find", "plan", "record_region", "regions", "scan", "summary_line", "table", "teardown", "teardown_stage"]
