"""What teardown works with, knowing no service: a `Resource` of the course, the `Scope` of a
teardown, a `Kind` (how to find, delete and confirm gone one sort of resource, and in which
wave). The shapes kinds repeat are in `shapes`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .. import aws, config, tags

GLOBAL_REGION = "us-east-1"  # IAM, Route 53, CloudFront and S3's bucket list answer here

#: the waves, in order: each starts all its deletions, then waits for them together
FRONT_DOORS = 1  # front doors and whatever holds instances, databases or streams
STANDING = 2  # what those stood on
LEFTOVERS = 3  # leftovers of the above, and identities
GUARDS = 4  # policies once no role holds them; security groups once no instance, LB or ENI does
NETWORK = 5  # the network's inner parts
VPCS = 6  # and last the VPCs themselves


@dataclass
class Resource:
    """One resource of the course, as teardown, `workshop status` and the final scan see it."""

    kind: str  # "ec2 instance", "rds instance (read replica)", ...
    id: str
    name: str
    region: str
    stage: str = ""
    run: str = ""
    state: str = field(default="", compare=False, repr=False)  # an observation, not identity
    data: dict = field(default_factory=dict, compare=False, repr=False)

    def label(self) -> str:
        return f"{self.kind} {self.name}" + (f" ({self.id})" if self.id and self.id != self.name else "")


@dataclass
class Scope:
    """Which resources a teardown touches, where, and on which target."""

    region: str
    run: str | None = None
    stage: int | None = None
    target: config.Target | None = None

    def client(self, service: str, region: str | None = None):
        return aws.client(service, region=region or self.region, target=self.target)

    def prefix(self) -> str:
        return tags.prefix(self.run)

    def wants(self, tag_items: Any, name: str | None) -> tuple[bool, str, str]:
        """(in scope?, stage, run) from a resource's tags (any shape) and name."""
        if tags.is_course(tag_items):
            stage, run = tags.owner(tag_items)
            ok = tags.in_run(run, self.run) and (self.stage is None or stage == str(self.stage))
            return ok, stage, run
        if self.stage is None and name and name.startswith(self.prefix()):
            return True, "", tags.run_of(name) or ""
        return False, "", ""

    def owned(self, tag_items: Any, name: str | None, id: str, shown: str | None = None, state: str = "",
              data: dict | None = None) -> Resource | None:
        """The resource if it is in scope (by tags, or by name where untagged), else None."""
        ok, stage, run = self.wants(tag_items, name)
        if not ok:
            return None
        return Resource("", id, shown or name or id, self.region, stage, run, state, data or {})


@dataclass
class Kind:
    name: str
    service: str  # the boto3 client's name
    wave: int
    find: Callable[[Scope], Iterable[Resource]]
    delete: Callable[[Scope, Resource], None]
    gone: Callable[[Scope, Resource], Any]  # truthy when gone, else falsy / waits.Pending(state)
    typical_s: float = 5
    timeout_s: float = 900
    global_: bool = False  # scanned once, in us-east-1
    scanned: bool = True  # part of the final "what remains" scan
    arn_service: str = ""  # the service in its ARNs, when not `service` (elbv2 -> elasticloadbalancing)
    holder: Callable[[Scope, Resource], str] | None = None  # who holds it, when AWS refuses to delete

    def __post_init__(self):
        self.arn_service = self.arn_service or self.service
