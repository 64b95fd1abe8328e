"""The one tag helper: reads every tag shape AWS answers with, and maps names to runs."""

from __future__ import annotations

import pytest

from workshop import tags

COURSE = {"workshop:course": "scale-baby-scale", "workshop:stage": "4", "workshop:run": "r1"}


@pytest.mark.parametrize("items", [
    COURSE,
    [{"Key": k, "Value": v} for k, v in COURSE.items()],
    [{"key": k, "value": v} for k, v in COURSE.items()],
    [{"TagKey": k, "TagValue": v} for k, v in COURSE.items()],
])
def test_as_dict_reads_every_shape(items):
    """A dict, Key/Value, key/value and TagKey/TagValue lists all read as the same dict."""
    assert tags.as_dict(items) == COURSE
    assert tags.is_course(items) and tags.is_course(items, "r1", 4) and not tags.is_course(items, "r2")
    assert tags.owner(items) == ("4", "r1")


def test_no_tags_is_not_the_course():
    """None or an empty list reads as no tags: not the course's."""
    assert tags.as_dict(None) == {} and not tags.is_course(None) and not tags.is_course([])


@pytest.mark.parametrize("name, run", [("sbs-r1-web", "r1"), ("sbs-r1", "r1"), ("web", None), (None, None)])
def test_run_of_a_name(name, run):
    """A course name `sbs-<run>-...` belongs to <run>; any other name to no run."""
    assert tags.run_of(name) == run


@pytest.mark.parametrize("run, wanted, inside", [
    ("demo-3f9a", "demo-3f9a", True), ("demo-3f9a-s04", "demo-3f9a", True), ("demo-3f9ab", "demo-3f9a", False),
    ("other", "demo", False), ("anything", None, True), (None, "demo", False),
])
def test_a_run_holds_its_notebooks_runs(run, wanted, inside):
    """A run id covers itself and its notebooks' `<run>-sNN`, not a longer id that merely starts the same."""
    assert tags.in_run(run, wanted) is inside
