"""The live topology: what exists on the target, read with describe calls, as plain data.

`read(run_id=None)` returns a `Topology` of the course's resources (tagged
`workshop:course`, and `workshop:run` when a run id is given). Stage notebooks draw the
live diagram from it (`live_architecture`), checks inspect it, and the capacity model
computes users from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Instance:
    id: str
    type: str  # e.g. "t2.micro"
    az: str
    state: str  # "running", "stopped", ...
    name: str = ""
    role: str = ""  # from the tag workshop:role: "web", "full-stack", ...
    public_ip: str | None = None
    stage: str = ""


@dataclass
class LoadBalancer:
    name: str
    arn: str
    type: str  # "application"
    azs: list[str]
    dns: str
    target_groups: list[str] = field(default_factory=list)
    healthy_by_az: dict[str, int] = field(default_factory=dict)


@dataclass
class Database:
    id: str
    engine: str
    instance_class: str  # e.g. "db.m5.large"
    az: str
    role: str  # "primary" or "replica"
    multi_az: bool = False
    secondary_az: str | None = None
    source: str | None = None  # a replica's primary
    status: str = ""
    endpoint: str = ""


@dataclass
class Cache:
    id: str
    engine: str
    node_type: str
    az: str
    role: str  # "primary" or "replica"
    group: str | None = None


@dataclass
class AutoScalingGroup:
    name: str
    min: int
    max: int
    desired: int
    azs: list[str]
    instance_ids: list[str] = field(default_factory=list)


@dataclass
class Distribution:
    id: str
    domain: str
    origins: list[str]  # origin domain names
    behaviours: dict[str, str] = field(default_factory=dict)  # path pattern -> origin id ("*" = default)


@dataclass
class Table:
    name: str
    ttl: bool = False
    stream: bool = False


@dataclass
class Topology:
    instances: list[Instance] = field(default_factory=list)
    load_balancers: list[LoadBalancer] = field(default_factory=list)
    databases: list[Database] = field(default_factory=list)
    caches: list[Cache] = field(default_factory=list)
    auto_scaling_groups: list[AutoScalingGroup] = field(default_factory=list)
    distributions: list[Distribution] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    buckets: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    apis: list[str] = field(default_factory=list)
    delivery_streams: list[str] = field(default_factory=list)
    dns_records: list[str] = field(default_factory=list)

    def running(self, role: str | None = None) -> list[Instance]:
        return [i for i in self.instances if i.state == "running" and (role is None or i.role == role)]

    @property
    def azs(self) -> list[str]:
        return sorted({i.az for i in self.instances} | {d.az for d in self.databases})

    @property
    def is_empty(self) -> bool:
        return not any(getattr(self, f) for f in self.__dataclass_fields__)
