"""workshop teardown: delete everything the course created, in dependency order; prove nothing is left.

Without --yes it deletes nothing and asks nothing: it lists what it would delete, prints
the exact command to run with --yes, and exits 1 when there is something to delete (0
when the course has left nothing), so a script can tell "clean" from "not yet torn down".
With --yes it deletes, waits for each deletion, then scans again and prints what remains
as a table, which must be empty: exit 0 if it is, 1 if anything is left or blocked.
"""

from __future__ import annotations

import shlex

NAME = "teardown"
HELP = "delete everything the course created (tags, 'sbs-' names), then show that nothing remains"


def add_arguments(parser):
    parser.add_argument("--yes", action="store_true",
                        help="really delete (RDS without a final snapshot); without it, only list what would go")
    parser.add_argument("--target", choices=("local", "aws"), help="local AWS (default) or your opted-in account")
    parser.add_argument("--run", metavar="RUN", help="only this run id's resources (default: every run)")
    parser.add_argument("--region", action="append", metavar="REGION",
                        help="sweep this region too (default: WORKSHOP_REGION and the regions the course used)")


def _again(args) -> str:
    parts = ["workshop", "teardown", "--yes"]
    if args.target:
        parts += ["--target", args.target]
    if args.run:
        parts += ["--run", args.run]
    for r in args.region or []:
        parts += ["--region", r]
    return " ".join(shlex.quote(p) for p in parts)


def run(args) -> int:
    from .. import config

    chosen = config.current().replace(kind=args.target) if args.target else config.current()
    with config.using(chosen):
        return _run(args)


def _run(args) -> int:
    from .. import aws, teardown

    print(aws.describe_target())
    region_list = teardown.regions(args.region or [])
    who = f"run {args.run!r}" if args.run else "every run"
    if not args.yes:
        skipped: list[str] = []
        found = teardown.plan(run=args.run, region_list=region_list, skipped=skipped)
        if not found:
            print(f"Nothing of the course ({who}) found in {', '.join(region_list)}: nothing to tear down.")
            return 0
        print(f"Would delete {len(found)} resource(s) of the course ({who}), in this order "
              "(RDS databases without a final snapshot: they hold only the course's demo data):")
        print(teardown.table(found))
        print(f"\nNothing was deleted. To delete these, run:\n  {_again(args)}")
        return 1
    print(f"Tearing down the course ({who}) in {', '.join(region_list)}:")
    report = teardown.teardown(run=args.run, region_list=region_list)
    for b in report.blocked:
        print(f"✗ {b.message}")
    if report.skipped:
        print("(the local AWS cannot list: " + ", ".join(report.skipped) + ")")
    print("\nWhat remains of the course (must be empty):")
    print(teardown.table(report.remaining, empty="(nothing: the course has left nothing behind)"))
    print(teardown.summary_line(report))
    if not report.ok:
        print(f"Run it again once the above is fixed: {_again(args)}")
    return 0 if report.ok else 1
