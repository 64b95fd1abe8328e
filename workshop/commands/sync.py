"""workshop sync: regenerate the learner's notebooks/ from solutions/ (answers stubbed)."""

from __future__ import annotations

from .. import exercises

NAME = "sync"
HELP = "regenerate notebooks/ from solutions/ (answers replaced by stubs); --check only compares"


def add_arguments(parser):
    parser.add_argument("--check", action="store_true", help="exit 1 if notebooks/ is out of date; write nothing")


def run(args) -> int:
    changed = exercises.sync(check_only=args.check)
    if args.check:
        if changed:
            print(f"notebooks/ is out of date for: {', '.join(changed)}; run 'workshop sync'")
            return 1
        print("notebooks/ is in sync with solutions/")
        return 0
    print(f"regenerated: {', '.join(changed)}" if changed else "notebooks/ already in sync")
    return 0
