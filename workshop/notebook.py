"""What a notebook's set-up cell calls: `ws = notebook.start(stage=N, run_id=..., target=...)`.

`start` applies the notebook's parameters, points the client factory at the target,
prints the target line first, and returns a `StageContext` with the stage's names, tags,
clients and diagram/check helpers. Set-up of earlier stages is the stage modules' job.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from . import aws, config, diagram, stages, tags
from .architecture import Architecture
from .errors import BadInput, WorkshopError, install_notebook_handler


@dataclass
class StageContext:
    stage: stages.Stage
    run_id: str
    region: str

    # --- names and tags ---------------------------------------------------------------
    def name(self, suffix: str) -> str:
        return tags.name(suffix, self.run_id)

    @property
    def tags(self) -> dict[str, str]:
        return tags.tags(self.stage.number, self.run_id)

    def tag_list(self, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
        return tags.tag_list(self.stage.number, self.run_id, key, value)

    # --- AWS ----------------------------------------------------------------------------
    def client(self, service: str, **kwargs):
        return aws.client(service, region=self.region, **kwargs)

    def resource(self, service: str, **kwargs):
        return aws.resource(service, region=self.region, **kwargs)

    @property
    def is_local(self) -> bool:
        return config.settings().is_local

    # --- diagrams and checks ------------------------------------------------------------
    def show_target(self) -> None:
        """Display the stage's target architecture inline."""
        if self.stage.architecture is not None:
            diagram.show(self.stage.architecture)

    def show(self, arch: Architecture) -> None:
        diagram.show(arch)

    def for_stage(self, number: int) -> "StageContext":
        """A context for another stage of the same run (its names and tags)."""
        return StageContext(stages.get(number), self.run_id, self.region)

    def build_previous(self) -> None:
        """Build, idempotently, what this stage stands on (its `builds_on` stages, in order)."""
        for number in self.stage.builds_on:
            earlier = stages.get(number)
            if earlier.build is not None:
                earlier.build(self.for_stage(number))

    def finish(self, teardown: bool = False) -> None:
        """The notebook's last cell: leave the stage standing, or tear it down if asked."""
        if teardown:
            from . import teardown as td

            td.teardown_stage(self.stage.number, self.run_id)
        else:
            print(f"Stage {self.stage.number} is left standing for the next notebook; `workshop teardown` removes the course.")

    def verify(self) -> list[stages.CheckResult]:
        """Run the stage's checks, one line each; raise a WorkshopError if any failed."""
        from . import checks

        results = checks.run(self.stage.number, self)
        print(checks.format_results(results))
        failed = [r for r in results if not r.ok]
        if failed:
            raise WorkshopError(f"{len(failed)} check(s) failed for stage {self.stage.number}: {failed[0].message}")
        return results


def start(stage: int, run_id: str = "demo", target: str = "auto", region: str = "us-east-1",
          max_hourly_usd: float | None = None, quiet: bool = False) -> StageContext:
    """Apply a notebook's parameters and print which target and account it acts on."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    install_notebook_handler()
    chosen = (target or "auto").strip().lower()
    if chosen != "auto":
        if chosen not in config.TARGETS:
            raise BadInput(f"unknown target {target!r}: use 'local', 'aws' or 'auto'")
        os.environ["WORKSHOP_TARGET"] = chosen
    if not run_id or not all(c.isalnum() or c == "-" for c in run_id) or len(run_id) > 20:
        raise BadInput(f"run_id {run_id!r} must be 1-20 letters, digits or '-'")
    os.environ["WORKSHOP_RUN_ID"] = run_id
    os.environ["WORKSHOP_REGION"] = region
    ctx = StageContext(stages.get(stage), run_id, region)
    if not quiet:
        print(aws.describe_target() + f" · run {run_id!r} · stage {ctx.stage.label}")
    if max_hourly_usd is not None and not ctx.is_local:
        from . import cost

        cost.guard(ctx.stage.number, max_hourly_usd)  # shows the bill; refuses above the limit
    return ctx
