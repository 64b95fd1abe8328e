"""How many users does an architecture serve, and what breaks first?

`evaluate(topology, users)` gives each tier's utilisation, the bottleneck and the maximum
sustainable users for a workload of named assumptions (`assumptions.py`); `summary_line(ws)`
is the one line that ends stage notebooks 1-8. The model is pure (model.py); the widgets
(widgets.py) and `workshop capacity` present it.
"""

from __future__ import annotations

from . import limits, story
from .model import NOTHING_YET, Plan, Result, Tier, about, describe, evaluate, max_users, plan, sweep, web_cpu_percent


def live(ws_or_topology):
    """The Topology to measure: a Topology as given, or the live one of a StageContext's run."""
    from ..topology import Topology

    if isinstance(ws_or_topology, Topology):
        return ws_or_topology
    from .. import topology

    run_id = getattr(ws_or_topology, "run_id", None)
    return topology.read(run_id)


def summary_line(ws_or_topology, assumptions=None) -> str:
    """'this architecture serves up to ~X users; the bottleneck is Y; its SLA availability; ~Z users at the kit's
    availability target (how)' for a topology or a run (`limits.served_at_target`, as docs/capacity.md's table)."""
    topo = live(ws_or_topology)
    result = evaluate(topo, 0, assumptions)
    line = describe(result)
    if result.availability is None:
        return line
    multi = "ec2-multi-az" in result.availability.parts
    down = max_users(topo, assumptions, az_down=True) if multi else None
    users, how = limits.served_at_target(result.max_users, down, result.availability)
    return line + f"; at that target, ~{about(users)} users ({how})"


__all__ = ["NOTHING_YET", "Plan", "Result", "Tier", "about", "describe", "evaluate", "limits", "live", "max_users",
           "plan", "story", "summary_line", "sweep", "web_cpu_percent"]
