"""How fast is the live topology read, and why not just list the images?

In one run, in one process with an embedded local AWS: builds stage 4 for a fresh run,
then times `topology.read(run)` cold (clients being made) and warm (median of 10), and one
unfiltered `describe_images` (what a naive AMI lookup costs) against the SSM public
parameter the course uses. Prints the times and their ratios. Goal: a warm read <= 1 s.

    .venv/bin/python benchmarks/topology_read.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workshop import notebook, topology
from workshop.localaws import discover
from workshop.stages import infra


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    os.environ.pop("WORKSHOP_TARGET", None)
    os.environ["WORKSHOP_ENDPOINT"] = discover.start_embedded().endpoint
    run = "b" + uuid.uuid4().hex[:8]
    ctx = notebook.start(stage=4, run_id=run, target="local", quiet=True)
    ctx.build_previous()
    ctx.stage.build(ctx)
    topology._clients.clear()
    cold = _time(lambda: topology.read(run))
    warm = statistics.median(_time(lambda: topology.read(run)) for _ in range(10))
    ec2 = infra.client(ctx, "ec2")
    ssm = _time(lambda: infra.latest_ami(ctx))
    images = _time(lambda: ec2.describe_images())
    print(f"topology.read, cold (clients made): {cold:.3f} s")
    print(f"topology.read, warm (median of 10): {warm:.3f} s   goal <= 1 s: {'met' if warm <= 1 else 'NOT met'}")
    print(f"AMI from the SSM public parameter:  {ssm:.3f} s")
    print(f"unfiltered describe_images:         {images:.3f} s   = {images / ssm:.0f} x the SSM lookup, "
          f"{images / warm:.1f} x a warm topology read")


if __name__ == "__main__":
    main()
