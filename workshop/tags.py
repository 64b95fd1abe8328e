"""Names and tags: everything the course creates is tagged and named from the run id.

The one tag helper: what the course writes (`tags`, `tag_list`, `name`) and how it reads
them back (`as_dict` for any of AWS's tag shapes, `is_course`, `owner`, `run_of`,
`prefix`, `filters` for the tagging API).
"""

from __future__ import annotations

import re
from typing import Any

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


def prefix(run_id: str | None = None) -> str:
    """The start of every name of one run (`sbs-<run>-`), or of the whole course (`sbs-`)."""
    return f"{PREFIX}-{run_id}-" if run_id else f"{PREFIX}-"


def run_of(resource_name: str | None) -> str | None:
    """The run a course name belongs to (`sbs-<run>-...` -> `<run>`), or None for another name."""
    if not resource_name or not resource_name.startswith(prefix()):
        return None
    return resource_name[len(prefix()):].split("-", 1)[0]


def in_run(run: str | None, wanted: str | None) -> bool:
    """Does a resource of run `run` belong to run `wanted`? Its own, or one of its notebooks'
    (`workshop run --jobs N` gives notebook NN of run `demo-3f9a` the run id `demo-3f9a-sNN`).
    Names work the same way: `sbs-demo-3f9a-` is a prefix of `sbs-demo-3f9a-s04-web`."""
    return wanted is None or run == wanted or (run or "").startswith(wanted + "-")


def as_dict(tag_items: Any) -> dict[str, str]:
    """Tags as a dict, from any shape AWS answers with: a dict, or a list of Key/Value,
    key/value or TagKey/TagValue pairs; None reads as no tags."""
    if not tag_items:
        return {}
    if isinstance(tag_items, dict):
        return dict(tag_items)
    out = {}
    for t in tag_items:
        k = t.get("Key", t.get("key", t.get("TagKey")))
        if k is not None:
            out[k] = t.get("Value", t.get("value", t.get("TagValue", ""))) or ""
    return out


def is_course(tag_items: Any, run_id: str | None = None, stage: int | str | None = None) -> bool:
    """True when a resource's tags mark it as the course's (of one run and stage, if given)."""
    t = as_dict(tag_items)
    return (t.get(COURSE_KEY) == config.COURSE and (run_id is None or t.get(RUN_KEY) == run_id)
            and (stage is None or t.get(STAGE_KEY) == str(stage)))


def owner(tag_items: Any) -> tuple[str, str]:
    """(stage, run) from a course resource's tags ('' where a tag is missing)."""
    t = as_dict(tag_items)
    return t.get(STAGE_KEY, ""), t.get(RUN_KEY, "")


def filters(run_id: str | None = None, stage: int | str | None = None) -> list[dict]:
    """The tagging API's TagFilters for the course (one run's, one stage's)."""
    out = [{"Key": COURSE_KEY, "Values": [config.COURSE]}]
    if run_id:
        out.append({"Key": RUN_KEY, "Values": [run_id]})
    if stage is not None:
        out.append({"Key": STAGE_KEY, "Values": [str(stage)]})
    return out
