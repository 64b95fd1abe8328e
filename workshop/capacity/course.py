"""Stages' provisioned topologies, built on a private local AWS: what `workshop capacity --stage N`
and the explorer's stage picker measure.

Each stage is built as its notebook would leave it: the stages it stands on (`builds_on`), in
order, then itself; the live topology is read back with describe calls. Stages that stand on
the same chain share one build; a stage that would see a stage it does not stand on (stage 2's
bigger box, for stage 3) gets a fresh run id.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable
from contextlib import contextmanager

from ..errors import BadInput
from ..topology import Topology

RUN_PREFIX = "capacity"


@contextmanager
def private_local_aws():
    """A local AWS of our own, in this process, on a free loopback port: the current target inside the block."""
    from .. import config
    from ..localaws.server import LocalAWS

    server = LocalAWS(port=0).start()
    try:
        with config.using(config.current().replace(kind="local", endpoint=server.endpoint)):
            yield server
    finally:
        server.stop()


def _check(numbers: Iterable) -> list:
    from .. import stages

    chosen = [stages.get(n) for n in numbers]  # unknown -> BadInput with the valid list, before anything starts
    builders = ", ".join(str(s.number) for s in stages.all_stages() if s.build)
    for s in chosen:
        if s.build is None and not s.builds_on:
            raise BadInput(f"stage {s.number} ({s.slug}) builds nothing to measure; stages that build: {builders}")
    return sorted(chosen, key=lambda s: s.number)


def stage_topologies(numbers: Iterable, region: str = "us-east-1", progress=None) -> dict[int, Topology]:
    """{stage number: its topology as built}, for each stage in `numbers`, on one private local AWS."""
    from .. import stages, topology, waits
    from ..context import StageContext

    chosen = _check(numbers)
    out: dict[int, Topology] = {}
    # moto keeps its state per process: in a process that already runs a local AWS (a test session, a
    # notebook's kernel), the private one shares it, so each measurement takes run ids of its own
    token = uuid.uuid4().hex[:6]
    # it reads what the stages are made of: no waiting for them to serve, no bars
    with private_local_aws(), waits.quiet(), waits.topology_only():
        chain, built = 0, set()
        for stage in chosen:
            needed = [n for n in stage.builds_on if stages.get(n).build is not None] + [stage.number]
            if not built <= set(needed):  # this chain holds a stage that this one does not stand on
                chain, built = chain + 1, set()
            run_id = f"{RUN_PREFIX}{chain}-{token}"
            for n in needed:
                if n not in built and stages.get(n).build is not None:
                    if progress:
                        progress(f"building stage {n} for stage {stage.number}")
                    stages.get(n).build(StageContext.of(n, run_id, region))
                built.add(n)
            out[stage.number] = copy.deepcopy(topology.read(run_id))
    return out


def stage_topology(number, region: str = "us-east-1") -> Topology:
    """Stage `number` as its notebook leaves it, built on a private local AWS."""
    from .. import stages

    return stage_topologies([number], region)[stages.get(number).number]
