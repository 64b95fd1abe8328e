"""Run a stage's behaviour checks (`workshop check N`, `ws.verify()`)."""

from __future__ import annotations

from . import stages
from .errors import WorkshopError


def run(stage_number: int, ctx=None) -> list[stages.CheckResult]:
    """Run every check of a stage; a check that raises a WorkshopError counts as failed."""
    stage = stages.get(stage_number)
    if ctx is None:
        from . import config
        from .notebook import StageContext

        s = config.settings()
        ctx = StageContext(stage, config.run_id(), s.region)
    results = []
    for check in stage.checks:
        try:
            results.append(check.run(ctx))
        except WorkshopError as exc:
            results.append(stages.CheckResult(check.name, False, str(exc)))
    return results


def format_results(results: list[stages.CheckResult]) -> str:
    lines = []
    for r in results:
        mark = "✓" if r.ok and not r.degraded else ("~" if r.ok else "✗")
        lines.append(f"{mark} {r.name}: {r.message}")
    return "\n".join(lines) if lines else "(this stage has no checks)"
