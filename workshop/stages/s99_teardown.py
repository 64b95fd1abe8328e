"""Stage 99: take the course down — every resource, in dependency order — and prove nothing is left."""

from __future__ import annotations

from ..exercises import Exercise
from . import Check, CheckResult, Stage, register


def _nothing_left(ctx) -> CheckResult:
    """The proof is a scan of the whole account for every run's tags and `sbs-` names, not of one run
    id: a teardown that looked at one run would call an account with other runs in it clean."""
    from .. import teardown

    left = teardown.scan(run=None)
    if not left:
        return CheckResult("nothing-left", True, "nothing of the course (any run) remains in any service it uses")
    runs = sorted({r.run for r in left if r.run})
    ours = [r for r in left if r.run == ctx.run_id or r.run.startswith(ctx.run_id + "-")]
    where = f"of run(s) {', '.join(runs)}" if runs else "of the course"
    advice = "run the teardown cell again" if ours else "set every_run=True to delete them too"
    return CheckResult("nothing-left", False, f"{len(left)} resource(s) {where} remain, e.g. {left[0].label()}: {advice}")


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
    tears_down=True,
))
