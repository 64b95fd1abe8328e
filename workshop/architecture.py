"""An architecture described as data: nodes (by kind), groups (AZs, tiers), edges.

A stage describes its target architecture once with these types; `workshop.diagram`
renders it, and the live architecture read from an account is compared against it with
`diff`. Kinds name AWS building blocks; `diagram.KINDS` maps each to a `diagrams` icon.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Node:
    id: str
    kind: str  # see diagram.KINDS: "ec2", "rds", "alb", "route53", ...
    label: str
    group: str | None = None  # the id of the Group it sits in (an AZ, a tier)


@dataclass(frozen=True)
class Group:
    id: str
    label: str  # e.g. "us-east-1a" or "Availability Zone A"
    parent: str | None = None


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    label: str = ""


@dataclass(frozen=True)
class Diff:
    missing: tuple[str, ...]  # in the target, not in the live account
    extra: tuple[str, ...]  # in the live account, not in the target

    @property
    def matches(self) -> bool:
        return not self.missing and not self.extra

    def __str__(self) -> str:
        if self.matches:
            return "the live architecture matches the target"
        parts = []
        if self.missing:
            parts.append("missing: " + ", ".join(self.missing))
        if self.extra:
            parts.append("extra: " + ", ".join(self.extra))
        return "; ".join(parts)


@dataclass(frozen=True)
class Architecture:
    name: str
    nodes: tuple[Node, ...]
    groups: tuple[Group, ...] = ()
    edges: tuple[Edge, ...] = field(default_factory=tuple)

    def __post_init__(self):
        ids = [n.id for n in self.nodes] + [g.id for g in self.groups]
        dupes = [i for i, c in Counter(ids).items() if c > 1]
        if dupes:
            raise ValueError(f"architecture {self.name!r}: duplicate ids {dupes}")
        known = set(ids)
        for e in self.edges:
            if e.src not in known or e.dst not in known:
                raise ValueError(f"architecture {self.name!r}: edge {e.src}->{e.dst} names an unknown node")

    def group_path(self, node: Node) -> tuple[str, ...]:
        """The labels of the groups around a node, outermost first."""
        by_id = {g.id: g for g in self.groups}
        path, gid = [], node.group
        while gid:
            g = by_id[gid]
            path.append(g.label)
            gid = g.parent
        return tuple(reversed(path))

    def inventory(self, by_group: bool = True) -> Counter:
        """A count of (kind, group labels) pairs: what `diff` compares."""
        return Counter((n.kind, self.group_path(n) if by_group else ()) for n in self.nodes)

    def diff(self, live: Architecture, by_group: bool = True) -> Diff:
        """What `live` lacks (missing) and adds (extra) compared with this target."""
        want, have = self.inventory(by_group), live.inventory(by_group)
        return Diff(tuple(_describe(want - have)), tuple(_describe(have - want)))


def _describe(counter: Counter) -> list[str]:
    out = []
    for (kind, path), count in sorted(counter.items()):
        where = f" in {' / '.join(path)}" if path else ""
        out.append(f"{count} x {kind}{where}")
    return out
