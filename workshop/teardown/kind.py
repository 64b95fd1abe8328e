"""What teardown works with, knowing no service: a `Resource` of the course, the `Scope` of a
teardown, a `Kind` (how to find, delete and confirm gone one sort of resource, and in which
wave), and the factories for the shapes kinds repeat ("gone once describe says not found")."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from .. import _factory, config, tags, waits

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
        return _factory.client(service, region=region or self.region, target=self.target)

    def prefix(self) -> str:
        return tags.prefix(self.run)

    def wants(self, tag_items: Any, name: str | None) -> tuple[bool, str, str]:
        """(in scope?, stage, run) from a resource's tags (any shape) and name."""
        if tags.is_course(tag_items):
            stage, run = tags.owner(tag_items)
            ok = (self.run is None or run == self.run) and (self.stage is None or stage == str(self.stage))
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


# --- the shapes kinds repeat (each asks in the resource's own region) ---------------------

def code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def is_gone(exc: ClientError, *codes: str) -> bool:
    """True when AWS's error says the resource does not exist (or is one of `codes`)."""
    c = code(exc)
    return c in codes or "NotFound" in c or "NoSuch" in c


def paginate(client, op: str, key: str, **kw) -> Iterable[dict]:
    if client.can_paginate(op):
        for page in client.get_paginator(op).paginate(**kw):
            yield from page.get(key, [])
    else:
        yield from getattr(client, op)(**kw).get(key, [])


def name_tag(tag_items: Any) -> str:
    return tags.as_dict(tag_items).get("Name", "")


def calling(service: str, op: str, param: str, as_list: bool = False, tolerate: tuple[str, ...] = (), **extra):
    """A `delete`: `op(param=r.id, **extra)`, done if AWS says it is already gone (or answers with a
    `tolerate` code)."""
    def delete(scope: Scope, r: Resource) -> None:
        try:
            getattr(scope.client(service, r.region), op)(**{param: [r.id] if as_list else r.id}, **extra)
        except ClientError as exc:
            if not is_gone(exc) and not any(t in code(exc) for t in tolerate):
                raise
    return delete


def gone_when_absent(service: str, op: str, param: str, state: Callable[[dict], str] | None = None,
                     codes: tuple[str, ...] = ()):
    """A `gone` check: done once `op(param=r.id)` answers not-found, else still deleting (in `state`)."""
    def gone(scope: Scope, r: Resource):
        try:
            answer = getattr(scope.client(service, r.region), op)(**{param: r.id})
        except ClientError as exc:
            if is_gone(exc, *codes):
                return True
            raise
        return waits.Pending((state(answer) if state else "") or "deleting")
    return gone


def gone_when_unlisted(service: str, op: str, param: str, key: str, as_list: bool = False,
                       state: Callable[[dict], str] | None = None, done: tuple[str, ...] = (),
                       id_key: str = "", codes: tuple[str, ...] = ()):
    """A `gone` check: done once `op(param=r.id)` lists nothing (or only items in a `done` state,
    or answers not-found), else still deleting, showing the items' states."""
    def gone(scope: Scope, r: Resource):
        try:
            items = getattr(scope.client(service, r.region), op)(**{param: [r.id] if as_list else r.id}).get(key) or []
        except ClientError as exc:
            if is_gone(exc, *codes):
                return True
            raise
        if id_key:
            items = [i for i in items if i.get(id_key) == r.id]
        states = [(state(i) if state else "") or "" for i in items]
        if not items or (any(states) and all(s.lower() in done for s in states if s)):
            return True
        return waits.Pending(",".join(s for s in states if s) or "deleting")
    return gone
