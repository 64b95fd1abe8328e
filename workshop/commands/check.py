"""workshop check N: run a stage's behaviour checks against the current target."""

from __future__ import annotations

import json
from dataclasses import asdict

from .. import behaviour
from ..context import StageContext

NAME = "check"
HELP = "run a stage's behaviour checks against the current target (exit 1 if one fails)"


def add_arguments(parser):
    parser.add_argument("stage", help="stage number")
    parser.add_argument("--run", default=None, help="run id whose resources to check (default: WORKSHOP_RUN_ID or demo)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args) -> int:
    ctx = StageContext.of(args.stage, run_id=args.run)
    results = behaviour.run(ctx)
    if args.json:
        print(json.dumps({"stage": ctx.stage.number, "run": ctx.run_id, "checks": [asdict(r) for r in results]}, indent=2))
    else:
        print(behaviour.format_results(results))
    return 0 if all(r.ok for r in results) else 1
