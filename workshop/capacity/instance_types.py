"""vCPUs and memory of the instance types, DB instance classes and cache node types the course uses.

Sources (the figures below are copied from them):
- EC2: AWS, "Amazon EC2 Instance Types" pages, https://aws.amazon.com/ec2/instance-types/
  (T2, T3, M4, M5, C4, C5, R5 tables: vCPU, Mem (GiB)).
- RDS: AWS, "Amazon RDS Instance Types", https://aws.amazon.com/rds/instance-types/
  (db.t2, db.t3, db.m4, db.m5, db.r5: vCPU, Memory (GiB)).
- ElastiCache: AWS, "Supported node types",
  https://docs.aws.amazon.com/AmazonElastiCache/latest/red-ug/CacheNodes.SupportedTypes.html
  (cache.t2, cache.t3, cache.m4, cache.m5, cache.r5: vCPUs, Memory (GiB)).

Burstable types (t2, t3, db.t*, cache.t*) are counted at their full vCPU count: the model
describes a peak the instance can hold for a while, not a month of 100% CPU (AWS gives
t2.micro a 10% baseline, t3.micro 10% per vCPU; see the T2/T3 pages above).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import BadInput


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpu: int
    memory_gib: float
    burstable: bool = False


def _table(rows: str) -> dict[str, InstanceType]:
    out = {}
    for line in rows.strip().splitlines():
        name, vcpu, mem = line.split()
        family = name.split(".")[-2]
        out[name] = InstanceType(name, int(vcpu), float(mem), burstable=family.startswith("t"))
    return out


# name  vCPU  memory GiB
EC2 = _table("""
t2.nano 1 0.5
t2.micro 1 1
t2.small 1 2
t2.medium 2 4
t2.large 2 8
t2.xlarge 4 16
t2.2xlarge 8 32
t3.nano 2 0.5
t3.micro 2 1
t3.small 2 2
t3.medium 2 4
t3.large 2 8
t3.xlarge 4 16
t3.2xlarge 8 32
m4.large 2 8
m4.xlarge 4 16
m4.2xlarge 8 32
m4.4xlarge 16 64
m4.10xlarge 40 160
m4.16xlarge 64 256
m5.large 2 8
m5.xlarge 4 16
m5.2xlarge 8 32
m5.4xlarge 16 64
m5.8xlarge 32 128
m5.12xlarge 48 192
m5.16xlarge 64 256
m5.24xlarge 96 384
c4.large 2 3.75
c4.xlarge 4 7.5
c4.2xlarge 8 15
c4.4xlarge 16 30
c4.8xlarge 36 60
c5.large 2 4
c5.xlarge 4 8
c5.2xlarge 8 16
c5.4xlarge 16 32
c5.9xlarge 36 72
c5.18xlarge 72 144
r5.large 2 16
r5.xlarge 4 32
r5.2xlarge 8 64
r5.4xlarge 16 128
""")

RDS = _table("""
db.t2.micro 1 1
db.t2.small 1 2
db.t2.medium 2 4
db.t3.micro 2 1
db.t3.small 2 2
db.t3.medium 2 4
db.t3.large 2 8
db.m4.large 2 8
db.m4.xlarge 4 16
db.m4.2xlarge 8 32
db.m5.large 2 8
db.m5.xlarge 4 16
db.m5.2xlarge 8 32
db.m5.4xlarge 16 64
db.m5.8xlarge 32 128
db.m5.12xlarge 48 192
db.m5.24xlarge 96 384
db.r5.large 2 16
db.r5.xlarge 4 32
db.r5.2xlarge 8 64
db.r5.4xlarge 16 128
db.r5.8xlarge 32 256
db.r5.12xlarge 48 384
db.r5.24xlarge 96 768
""")

ELASTICACHE = _table("""
cache.t2.micro 1 0.555
cache.t2.small 1 1.55
cache.t3.micro 2 0.5
cache.t3.small 2 1.37
cache.t3.medium 2 3.09
cache.m4.large 2 6.42
cache.m5.large 2 6.38
cache.m5.xlarge 4 12.93
cache.r5.large 2 13.07
cache.r5.xlarge 4 26.32
""")

ALL: dict[str, InstanceType] = {**EC2, **RDS, **ELASTICACHE}


def get(name: str) -> InstanceType:
    """The type called `name`, or a BadInput naming the table to extend."""
    try:
        return ALL[name]
    except KeyError:
        kind = ("DB instance class" if name.startswith("db.") else
                "cache node type" if name.startswith("cache.") else "instance type")
        raise BadInput(f"{kind} {name!r} is not in the capacity model's table (workshop/capacity/instance_types.py): "
                       "add its vCPUs and memory from the AWS page named there") from None


def vcpus(name: str) -> int:
    return get(name).vcpu
