"""workshop run: execute the course's notebooks headless, in stage order."""

from __future__ import annotations

from pathlib import Path

from .. import runner

NAME = "run"
HELP = "run the course's notebooks headless with papermill (all stages, or those named)"


def add_arguments(parser):
    parser.add_argument("stages", nargs="*", metavar="STAGE", help="stage numbers (default: all)")
    parser.add_argument("--jobs", "-j", type=int, default=1, help="notebooks run at a time (each stands alone)")
    parser.add_argument("--target", choices=("local", "aws"), default=None, help="default: WORKSHOP_TARGET or local")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="a notebook parameter, e.g. -p run_id class1")
    parser.add_argument("--learner", action="store_true",
                        help="run the learner's notebooks (notebooks/, exercises unsolved) instead of solutions/")
    parser.add_argument("--build", default=str(runner.BUILD),
                        help="where runs/<run id>/ (executed notebooks, the run's report) and the index report.html go")
    parser.add_argument("--attach", action="store_true",
                        help="use the local AWS 'workshop up' started instead of a private one for this run")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> int:
    source = runner.NOTEBOOKS if args.learner else runner.SOLUTIONS
    results = runner.run_course(
        args.stages or None, jobs=args.jobs, target=args.target, params=dict(args.parameter),
        source=source, build=Path(args.build), progress=not args.no_progress, attach=args.attach,
    )
    print(runner.summary(results))
    print(f"report: {results[0].output.parent / 'report.html'} (every run: {Path(args.build) / 'report.html'})")
    return 0 if all(r.status == "passed" for r in results) else 1
