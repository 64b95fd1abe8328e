"""What a notebook's set-up cell calls: `ws = notebook.start(stage=N, run_id=..., target=...)`.

`start` is an edge: it builds the notebook's `config.Target` once from its parameters (and,
for what the parameters leave open, the environment the kernel was started with), makes it
the kernel's current target, prints the target line first, and returns a `StageContext`
with the stage's names, tags, clients and diagram/check helpers. Set-up of earlier stages
is the stage modules' job.
"""

from __future__ import annotations

import logging

from . import aws, config, stages
from .context import StageContext
from .errors import BadInput, install_notebook_handler

__all__ = ["StageContext", "start"]


def start(stage: int, run_id: str = "demo", target: str = "auto", region: str = "us-east-1",
          max_hourly_usd: float | None = None, quiet: bool = False) -> StageContext:
    """Apply a notebook's parameters and print which target and account it acts on."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    install_notebook_handler()
    chosen = (target or "auto").strip().lower()
    if chosen != "auto" and chosen not in config.TARGETS:
        raise BadInput(f"unknown target {target!r}: use 'local', 'aws' or 'auto'")
    base = config.from_environment()
    t = base.replace(kind=base.kind if chosen == "auto" else chosen, run_id=run_id, region=region)
    if t.is_local and not t.endpoint:
        from .localaws import discover

        # a notebook opened on its own starts a local AWS inside its kernel if none is running
        t = t.replace(endpoint=discover.endpoint(t, autostart=True))
    config.use(t)
    ctx = StageContext(stages.get(stage), t)
    if not quiet:
        print(aws.describe_target(t) + f" · run {run_id!r} · stage {ctx.stage.label}")
    if max_hourly_usd is not None and not ctx.is_local:
        from . import cost

        cost.guard(ctx.stage.number, max_hourly_usd)  # shows the bill; refuses above the limit
    return ctx
