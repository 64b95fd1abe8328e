"""Stage 99: take the course down — every resource, in dependency order — and prove nothing is left."""

from __future__ import annotations

from ..exercises import Exercise
from . import Check, CheckResult, Stage, register


def _nothing_left(ctx) -> CheckResult:
    from .. import teardown

    left = teardown.scan(run=ctx.run_id)
    if not left:
        return CheckResult("nothing-left", True, f"nothing of run {ctx.run_id!r} remains in any service the course uses")
    return CheckResult("nothing-left", False, f"{len(left)} resource(s) of run {ctx.run_id!r} remain, e.g. "
                       f"{left[0].label()}: run the teardown cell again")


def _first_checker(value, namespace):
    text = str(value or "").lower()
    if "replica" in text:
        return None
    return f"expected the kind that must go first of the two, found {value!r}"


EXERCISES = (Exercise(
    name="s99-first",
    stage=99,
    variable="first",
    checker=_first_checker,
    hint="a primary cannot be deleted while a read replica still replicates from it",
),)


STAGE = register(Stage(
    number=99,
    slug="teardown",
    title="Teardown",
    slides="-",
    users="-",
    goal="Delete everything the course created, in the order AWS needs, and prove that nothing is left.",
    architecture=None,
    builds_on=(),
    checks=(Check("nothing-left", _nothing_left, "no resource of the run is left in any service"),),
    exercises=EXERCISES,
))
