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


# --- the exercise: why the read replicas go first ---------------------------------------------------

#: the choices of exercise 99.1, as the notebook prints them; one is right, each wrong one has its own reply
ORDERS = {
    "a": "the replicas first: RDS refuses to delete a primary that still has read replicas",
    "b": "the primary first: its read replicas are deleted with it, so one call does it all",
    "c": "the replicas first: with the primary gone, each replica would live on as a standalone database",
    "d": "either order: each DB instance is deleted and billed on its own",
}
#: AWS, Amazon RDS User Guide, "Working with DB instance read replicas", deleting read replicas
#: (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.html): "If you delete a source DB
#: instance without deleting its read replicas in the same AWS Region, each read replica is promoted to a
#: standalone DB instance."
SOURCE = "RDS User Guide, \"Working with DB instance read replicas\""
_WRONG = {
    "a": f"RDS does not refuse: the primary goes, and each of its replicas is promoted ({SOURCE})",
    "b": f"that is not RDS (some other clouds do so): a replica outlives its primary, promoted ({SOURCE})",
    "d": "the order changes what is left: with the primary gone first, its replicas are not deleted with it "
         f"but promoted ({SOURCE})",
}


def _check_order(value, namespace) -> str | None:
    letter = str(value or "").strip().lower().rstrip(")")
    if letter not in ORDERS:
        return f"expected the letter of one choice, one of {', '.join(ORDERS)}, found {value!r}"
    if letter in _WRONG:
        return f"expected the choice that says what RDS does, found {letter!r}: {_WRONG[letter]}"
    return None


EXERCISES = (Exercise(
    name="s99-replica-order",
    stage=99,
    variable="order",
    checker=_check_order,
    hint="what becomes of a read replica once its source is gone: is it deleted with it, kept, or does it block "
         "the deletion? Each choice stands for one of these",
    more="the RDS User Guide's page on read replicas says what RDS does to a replica whose source is deleted; "
         "rds.promote_read_replica does the same thing on purpose",
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
