"""Run a stage's behaviour checks (`workshop check N`, `ws.verify()`).

Behaviour checks prove a stage's claim against the live target; they are not the
exercise checks (`exercises.check`), which grade a learner's answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import config
from .errors import WorkshopError
from .stages import CheckResult

if TYPE_CHECKING:
    from .context import StageContext


def run(ctx: StageContext) -> list[CheckResult]:
    """Run every check of the context's stage; a check that raises a WorkshopError counts as failed."""
    results = []
    with config.using(ctx.target):
        for check in ctx.stage.checks:
            try:
                results.append(check.run(ctx))
            except WorkshopError as exc:
                results.append(CheckResult(check.name, False, str(exc)))
    return results


def format_results(results: list[CheckResult]) -> str:
    lines = []
    for r in results:
        mark = "✓" if r.ok and not r.degraded else ("~" if r.ok else "✗")
        lines.append(f"{mark} {r.name}: {r.message}")
    return "\n".join(lines) if lines else "(this stage has no checks)"
