"""`StageContext`: one stage of one run on one target, as a notebook cell or a check sees it.

It holds the stage and the `config.Target` (kind, region, endpoint, account, run id) and
gives the stage's names, tags and clients from them. It also keeps what the notebook's traffic
demos just measured (`witness`), so that `verify()` right after judges that measurement instead
of sending the same traffic again (`workshop check N`, a fresh context, always measures).

It sits low in the import graph: it knows the registry of stages, the client factory, the tag
helper and the diagram renderer, and nothing imports it back except at type-checking time.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

from . import aws, behaviour, config, diagram, stages, tags
from .architecture import Architecture
from .errors import WorkshopError

#: how long a demo's measurement may stand in for a check's own traffic during `verify()` (seconds):
#: the verify cell follows the demos within minutes; an older one is measured again
WITNESS_MAX_AGE_S = 600.0


@dataclass
class _Witnessed:
    items: dict[str, tuple[float, object]] = field(default_factory=dict)
    verifying: bool = False


@dataclass(frozen=True)
class StageContext:
    stage: stages.Stage
    target: config.Target
    _witnessed: _Witnessed = field(default_factory=_Witnessed, compare=False, repr=False)

    @classmethod
    def of(cls, stage: stages.Stage | int | str, run_id: str | None = None, region: str | None = None,
           target: config.Target | None = None) -> StageContext:
        """A context for `stage` on `target` (default: the current one), with its run id or region changed."""
        t = target or config.current()
        changes = {k: v for k, v in (("run_id", run_id), ("region", region)) if v and v != getattr(t, k)}
        chosen = stage if isinstance(stage, stages.Stage) else stages.get(stage)
        return cls(chosen, t.replace(**changes) if changes else t)

    @property
    def run_id(self) -> str:
        return self.target.run_id

    @property
    def region(self) -> str:
        return self.target.region

    @property
    def is_local(self) -> bool:
        return self.target.is_local

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
        return aws.client(service, target=self.target, **kwargs)

    def resource(self, service: str, **kwargs):
        return aws.resource(service, target=self.target, **kwargs)

    # --- diagrams and checks ------------------------------------------------------------
    def show_target(self) -> None:
        """Display the stage's target architecture inline."""
        if self.stage.architecture is not None:
            diagram.show(self.stage.architecture)

    def show(self, arch: Architecture) -> None:
        diagram.show(arch)

    def for_stage(self, number: int) -> StageContext:
        """A context for another stage of the same run (its names and tags)."""
        return StageContext(stages.get(number), self.target)

    def build_previous(self) -> None:
        """Build, idempotently, what this stage stands on (its `builds_on` stages, in order)."""
        with config.using(self.target):
            for number in self.stage.builds_on:
                earlier = stages.get(number)
                if earlier.build is not None:
                    earlier.build(self.for_stage(number))

    def finish(self, teardown: bool = False) -> None:
        """The notebook's last cell: leave the stage standing, or tear it down if asked."""
        if teardown:
            from . import teardown as td

            with config.using(self.target):
                td.teardown_stage(self.stage.number, self.run_id)
        else:
            print(f"Stage {self.stage.number} is left standing for the next notebook; `workshop teardown` removes the course.")

    # --- what the demos measured -------------------------------------------------------
    def witness(self, key: str, measurement) -> None:
        """Keep a traffic demo's measurement under `key` (the newest wins) for `verify()`."""
        self._witnessed.items[key] = (time.monotonic(), measurement)

    def witnessed(self, key: str):
        """While `verify()` runs: the measurement kept under `key` within WITNESS_MAX_AGE_S, with its age in
        seconds, as `(measurement, age)`; else None (the check measures)."""
        found = self._witnessed.items.get(key) if self._witnessed.verifying else None
        if found is None or time.monotonic() - found[0] > WITNESS_MAX_AGE_S:
            return None
        return found[1], time.monotonic() - found[0]

    @contextlib.contextmanager
    def judging_demos(self):
        """Within: `witnessed` answers (what `verify()` runs its checks in)."""
        before, self._witnessed.verifying = self._witnessed.verifying, True
        try:
            yield self
        finally:
            self._witnessed.verifying = before

    def verify(self) -> list[stages.CheckResult]:
        """Run the stage's behaviour checks, one line each; raise a WorkshopError if any failed. A check whose
        traffic a demo of this notebook just sent (`witness`) judges that measurement and says so."""
        with self.judging_demos():
            results = behaviour.run(self)
        print(behaviour.format_results(results))
        failed = [r for r in results if not r.ok]
        if failed:
            raise WorkshopError(f"{len(failed)} check(s) failed for stage {self.stage.number}: {failed[0].message}")
        return results
