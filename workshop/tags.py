"""Names and tags: everything the course creates is tagged and named from the run id."""

from __future__ import annotations

import re

from . import config

COURSE_KEY = "workshop:course"
STAGE_KEY = "workshop:stage"
RUN_KEY = "workshop:run"
PREFIX = "sbs"  # "Scale, baby, scale!": every resource name starts with it


def tags(stage: int, run_id: str | None = None) -> dict[str, str]:
    """The three course tags for a resource created by `stage`."""
    return {COURSE_KEY: config.COURSE, STAGE_KEY: str(stage), RUN_KEY: run_id or config.run_id()}


def tag_list(stage: int, run_id: str | None = None, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    """The tags as AWS's usual [{"Key": ..., "Value": ...}] list (names vary by service)."""
    return [{key: k, value: v} for k, v in tags(stage, run_id).items()]


def name(suffix: str, run_id: str | None = None) -> str:
    """A resource name unique to the run: `sbs-<run>-<suffix>`, safe for most AWS name rules."""
    run = run_id or config.run_id()
    return re.sub(r"[^A-Za-z0-9-]", "-", f"{PREFIX}-{run}-{suffix}")


def is_course(tag_items) -> bool:
    """True when a resource's tags (dict or Key/Value list) mark it as the course's."""
    if isinstance(tag_items, dict):
        return tag_items.get(COURSE_KEY) == config.COURSE
    return any((t.get("Key") or t.get("key")) == COURSE_KEY and (t.get("Value") or t.get("value")) == config.COURSE
               for t in tag_items or [])
