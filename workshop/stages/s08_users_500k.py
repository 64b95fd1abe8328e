"""Stage 8, users > 500,000+ (slide 20): the whole picture, read back from the account.

Stages 1-7 built every piece; stage 8 sets the auto-scaled web tier to slide 20's size
(three web instances per AZ: stage 4's baseline instance and two of the group's) and then
compares what the account really holds with slide 20's component list: two AZs, each
with auto-scaled web instances, ElastiCache and an RDS read replica; RDS Multi-AZ (active
and standby); DynamoDB; S3 + CloudFront; the load balancer; Route 53. The live diagram is
drawn from describe calls and diffed against the target.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .. import bill, topology, waits
from ..architecture import Architecture, Edge, Node
from ..errors import BadInput, WorkshopError
from ..exercises import Exercise
from . import (
    Band,
    Check,
    CheckResult,
    Stage,
    infra,
    register,
    s01_day_one,
    s03_web_and_database,
    s06_shift_load,
    s07_auto_scaling,
    webtier,
)

WEB_PER_AZ = 3  # slide 20: "3 web instances (auto scaled)" in each AZ
REPLICAS_PER_AZ = 1  # slide 20: "an RDS read replica" in each AZ; behind ElastiCache, stage 5's four are too many
#: slide 20 names no class; the write ceiling (one primary takes every write) is why the primary grows here: stage 3's
#: db.m5.large stops stage 7 near 760,000 users at its writes (capacity model), db.m5.xlarge doubles its vCPUs
PRIMARY_CLASS = "db.m5.xlarge"


def validate(web_per_az) -> int:
    if not isinstance(web_per_az, int) or isinstance(web_per_az, bool) or not 2 <= web_per_az <= 6:
        raise BadInput(f"web_per_az={web_per_az!r}: give 2 to 6 (slide 20 shows 3 per AZ; the group's max is "
                       f"{s07_auto_scaling.MAX_SIZE}). Nothing was created.")
    return web_per_az


def group_desired(ctx, web_per_az: int = WEB_PER_AZ) -> int:
    """The group's share of slide 20's web tier: the baseline instances count too."""
    baseline = len(s07_auto_scaling.baseline_instances(ctx))
    return max(s07_auto_scaling.MIN_SIZE, 2 * web_per_az - baseline)


def retire_extra_replicas(ctx, per_az: int = REPLICAS_PER_AZ) -> list[str]:
    """Keep `per_az` read replicas in each AZ (slide 20), delete the rest and their reader records; say what went."""
    from . import s05_users_100k as s05

    primary = webtier.find_primary_db(ctx)
    if primary is None:
        return []
    kept: dict[str, int] = {}
    extra = []
    for replica in webtier.replicas_of(ctx, primary["DBInstanceIdentifier"]):
        az = replica.get("AvailabilityZone", "")
        kept[az] = kept.get(az, 0) + 1
        if kept[az] > per_az:
            extra.append(replica)
    rds = infra.client(ctx, "rds")
    zone_id = infra.find_zone(ctx)
    for replica in extra:
        rid = replica["DBInstanceIdentifier"]
        records = [rr for rr in webtier.zone_records(ctx, s05.reader_name(ctx)) if rr.get("SetIdentifier") == rid]
        if records and zone_id:
            infra.client(ctx, "route53").change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={
                "Changes": [{"Action": "DELETE", "ResourceRecordSet": rr} for rr in records]})
        rds.delete_db_instance(DBInstanceIdentifier=rid, SkipFinalSnapshot=True)
    return [r["DBInstanceIdentifier"] for r in extra]


def scale_primary(ctx, instance_class: str = PRIMARY_CLASS) -> str | None:
    """Scale the primary up to `instance_class` unless it is that already (or bigger: stage 10's); say what changed."""
    from ..capacity import instance_types

    primary = webtier.find_primary_db(ctx)
    if primary is None or instance_types.vcpus(primary["DBInstanceClass"]) >= instance_types.vcpus(instance_class):
        return None
    infra.client(ctx, "rds").modify_db_instance(DBInstanceIdentifier=primary["DBInstanceIdentifier"],
                                                DBInstanceClass=instance_class, ApplyImmediately=True)
    return f"{primary['DBInstanceIdentifier']}: {primary['DBInstanceClass']} -> {instance_class}"


def build(ctx, web_per_az: int = WEB_PER_AZ) -> None:
    """Size the group for slide 20 (stages 1, 3-7 built by `ws.build_previous()`), keep one read replica per AZ,
    scale the primary up for the writes; idempotent."""
    validate(web_per_az)
    retire_extra_replicas(ctx)
    scale_primary(ctx)
    group = s07_auto_scaling.find_group(ctx)
    if group is None:
        raise WorkshopError(f"no Auto Scaling group {s07_auto_scaling.group_name(ctx)}: stage 7 builds it; "
                                    "run ws.build_previous()")
    desired = min(group["MaxSize"], group_desired(ctx, web_per_az))
    if group["MinSize"] != desired or group["DesiredCapacity"] < desired:
        # the floor, not only the desired capacity: an idle group's target tracking (AlarmLow) would scale a
        # hand-set desired capacity back to the minimum within minutes, on AWS as here
        infra.client(ctx, "autoscaling").update_auto_scaling_group(
            AutoScalingGroupName=s07_auto_scaling.group_name(ctx), MinSize=desired,
            DesiredCapacity=max(desired, group["DesiredCapacity"]))
    wait_in_service(ctx, min(2 * web_per_az, desired + len(s07_auto_scaling.baseline_instances(ctx))))


#: how long the build waits for the group's new instances to pass their health checks (AWS: launch + checks)
IN_SERVICE_TIMEOUT_S = 600


def wait_in_service(ctx, count: int, timeout_s: float = IN_SERVICE_TIMEOUT_S) -> int:
    """Wait until `count` targets behind the load balancer are healthy (the group's new instances launch,
    register and pass their checks: seconds on the local AWS, minutes on AWS); how many are."""
    import time

    tg = webtier.find_target_group(ctx)
    if tg is None:
        return 0
    if not waits.for_serving():
        return sum(1 for s in webtier.target_ids(ctx, tg["TargetGroupArn"]).values() if s == "healthy")
    deadline = time.monotonic() + timeout_s
    while True:
        healthy = sum(1 for s in webtier.target_ids(ctx, tg["TargetGroupArn"]).values() if s == "healthy")
        if healthy >= count or time.monotonic() > deadline:
            return healthy
        time.sleep(1.0 if ctx.target.is_local else 10.0)


def _serves_500k(ctx) -> CheckResult:
    from . import s08_proof  # traffic: imported when the check runs

    return s08_proof.check(ctx)


# --- slide 20's component list ------------------------------------------------------------------------

@dataclass(frozen=True)
class Component:
    name: str  # as slide 20 shows it
    present: Callable[[topology.Topology, list[str]], tuple[bool, str]]  # (found?, what was found)


def _web(t, azs):
    running = [i for i in t.running() if i.role == webtier.WEB_ROLE]
    per_az = {az: sum(1 for i in running if i.az == az) for az in azs}
    grouped = bool(t.auto_scaling_groups) and all(
        set(azs) <= set(g.azs) for g in t.auto_scaling_groups)
    ok = grouped and all(n >= WEB_PER_AZ for n in per_az.values())
    return ok, f"{per_az}, Auto Scaling group over {sorted(t.auto_scaling_groups[0].azs) if t.auto_scaling_groups else 'none'}"


def _caches(t, azs):
    where = sorted({c.az for c in t.caches})
    return set(azs) <= set(where), f"ElastiCache nodes in {where or 'no AZ'}"


def _replicas(t, azs):
    where = sorted({d.az for d in t.databases if d.role == "replica" and d.status == "available"})
    return set(azs) <= set(where), f"available read replicas in {where or 'no AZ'}"


def _multi_az(t, azs):
    primaries = [d for d in t.databases if d.role == "primary"]
    ok = any(d.multi_az and d.secondary_az and d.secondary_az != d.az for d in primaries)
    shown = ", ".join(f"{d.id} {d.az}/{d.secondary_az}" for d in primaries) or "no primary"
    return ok, f"primary/standby {shown}"


def _dynamodb(t, azs):
    return any(tb.ttl for tb in t.tables), f"tables {[tb.name for tb in t.tables] or 'none'}"


def _cdn(t, azs):
    ok = bool(t.buckets) and any(len(d.origins) >= 2 and any(o == "*" for o in d.behaviours) for d in t.distributions)
    return ok, f"{len(t.distributions)} distribution(s), {len(t.buckets)} bucket(s)"


def _elb(t, azs):
    return any(set(azs) <= set(lb.azs) for lb in t.load_balancers), \
        f"load balancers over {[lb.azs for lb in t.load_balancers] or 'none'}"


def _route53(t, azs):
    return bool(t.zones) and any(" ALIAS " in r and r.startswith("www.") for r in t.dns_records), \
        f"{len(t.zones)} zone(s), www {'aliased' if any(r.startswith('www.') for r in t.dns_records) else 'missing'}"


SLIDE_20 = (
    Component("auto-scaled web instances, 3 per AZ", _web),
    Component("ElastiCache in each AZ", _caches),
    Component("an RDS read replica in each AZ", _replicas),
    Component("RDS Multi-AZ: active and standby", _multi_az),
    Component("DynamoDB", _dynamodb),
    Component("S3 + CloudFront", _cdn),
    Component("Elastic Load Balancing over both AZs", _elb),
    Component("Route 53", _route53),
)


def compare(topo: topology.Topology) -> list[tuple[str, bool, str]]:
    """Slide 20's components against the live topology: (component, present?, what was found)."""
    azs = sorted({i.az for i in topo.running() if i.role == webtier.WEB_ROLE})[:2]
    if len(azs) < 2:
        azs = sorted(topo.azs)[:2]
    return [(c.name, *c.present(topo, azs)) for c in SLIDE_20]


def _slide_20(ctx) -> CheckResult:
    rows = compare(topology.read(ctx.run_id))
    missing = [f"{name} ({found})" for name, ok, found in rows if not ok]
    if missing:
        return CheckResult("slide-20", False, f"{len(missing)} of slide 20's {len(rows)} components missing: "
                                              + "; ".join(missing[:2]))
    return CheckResult("slide-20", True, f"all {len(rows)} components of slide 20 are live")


def _web_tier(ctx) -> CheckResult:
    group = s07_auto_scaling.find_group(ctx)
    if group is None:
        return CheckResult("web-tier", False, f"no Auto Scaling group {s07_auto_scaling.group_name(ctx)}: stage 7 builds it")
    tg = webtier.find_target_group(ctx)
    health = webtier.target_ids(ctx, tg["TargetGroupArn"]) if tg else {}
    instances = [i for i in webtier.instances(ctx, list(health)) if i["State"]["Name"] == "running"]
    counts = webtier.by_az(instances)
    healthy = sum(1 for s in health.values() if s == "healthy")
    shown = ", ".join(f"{az}: {n}" for az, n in sorted(counts.items())) or "none"
    if len(counts) != 2 or min(counts.values()) < WEB_PER_AZ or healthy < len(instances):
        return CheckResult("web-tier", False, f"expected {WEB_PER_AZ}+ healthy web instances in each AZ behind the load "
                                              f"balancer, found {shown} ({healthy} healthy)")
    return CheckResult("web-tier", True, f"{len(instances)} healthy web instances ({shown}), "
                                         f"{group['DesiredCapacity']} of them the group's")


# --- the exercise: how many read replicas for a read load? -----------------------------------------------

#: one replica's reads/s to size for in the exercise: db.m5.large's 2 vCPUs x 1,000 reads/s per vCPU
#: (workshop/capacity/assumptions.py: db_reads_per_vcpu) x 70%, keeping 30% headroom below the knee for a spike
#: (a kit default for sizing: Auto Scaling's target tracking examples use 40-70% CPU)
READS_PER_REPLICA = 1_400

#: the cases exercise 8.1 names, as (what, queries/s at the peak, read share, cache hit ratio, reads/s per
#: replica, replicas). The peaks are the exercise's round numbers, chosen so that the slides' counts come out
#: (slide 11: 4 replicas, no cache; slide 20: one per AZ, behind ElastiCache); read share 0.9 and hit ratio 0.9
#: are the kit's defaults (assumptions.py).
REPLICA_CASES = (
    ("slide 11: no cache", 6_000, 0.9, 0.0, READS_PER_REPLICA, 4),
    ("slide 20: behind ElastiCache", 30_000, 0.9, 0.9, READS_PER_REPLICA, 2),
    ("half reads, just over 3 replicas' worth", 9_000, 0.5, 0.0, READS_PER_REPLICA, 4),
    ("half reads, exactly 5 replicas' worth", 14_000, 0.5, 0.0, READS_PER_REPLICA, 5),
)


def _check_replicas(value, namespace) -> str | None:
    if not callable(value):
        return f"expected a function replicas_needed(queries_per_s, read_share, cache_hit_ratio, reads_per_replica), " \
               f"found {type(value).__name__}"
    for what, queries, share, hit, per_replica, expected in REPLICA_CASES:
        found = value(queries, share, hit, per_replica)
        if isinstance(found, bool) or not isinstance(found, (int, float)) or found != int(found):
            return f"expected a whole number of replicas for {what}, found {found!r}"
        if found != expected:
            reads = queries * share * (1 - hit)
            return (f"expected {expected} replicas for {what} ({queries:,} queries/s, {share:.0%} reads, cache hit "
                    f"{hit:.0%}, {per_replica:,} reads/s each), found {found:g}: the replicas must carry "
                    f"{reads:,.0f} reads/s")
    return None


EXERCISES = (Exercise(
    "s08-replicas", 8, "replicas_needed", _check_replicas,
    "which of the queries reach a replica at all? Writes go to the primary, and a cache hit never reaches the "
    "database; then, can a replica be split?",
    more="the reads that reach the replicas are queries_per_s × read_share × (1 − cache_hit_ratio); a fraction "
         "of a replica is a whole replica",
),)


# --- the target architecture -------------------------------------------------------------------------------

def _architecture() -> Architecture:
    web, data = topology.WEB_TIER, topology.DATA_TIER
    nodes = [Node("user", "user", "Users"), Node("dns", "route53", "Route 53"),
             Node("cdn", "cloudfront", "CloudFront"), Node("static", "s3", "S3 static assets"),
             Node("alb", "alb", "Elastic Load Balancing"), Node("eip", "eip", "Elastic IP\n(day 1; admin only)"),
             Node("asg", "autoscaling", "Auto Scaling group\n+ CloudWatch alarms"), Node("sessions", "dynamodb", "DynamoDB sessions"),
             Node("db", "rds", "RDS active", topology.az_group("A", data)),
             Node("standby", "rds-standby", "RDS standby", topology.az_group("B", data))]
    edges = [Edge("user", "dns", "DNS"), Edge("dns", "cdn", "www"), Edge("cdn", "static", "/static/*"),
             Edge("cdn", "alb", "dynamic"), Edge("db", "standby", "sync"), Edge("eip", "web-a1", "SSH")]
    for letter in "AB":
        low = letter.lower()
        for k in range(WEB_PER_AZ):
            nodes.append(Node(f"web-{low}{k + 1}", "ec2", f"web {letter}{k + 1}", topology.az_group(letter, web)))
            edges.append(Edge("alb", f"web-{low}{k + 1}"))
        nodes.append(Node(f"cache-{low}", "elasticache", "ElastiCache", topology.az_group(letter, data)))
        edges += [Edge("asg", f"web-{low}2", "scales"), Edge(f"web-{low}1", f"cache-{low}", "cached reads"),
                  Edge(f"web-{low}1", "sessions", "sessions")]
    for n in range(2 * REPLICAS_PER_AZ):  # slide 20: a read replica in each AZ (stage 8 retires stage 5's others)
        letter = "AB"[n % 2]
        nodes.append(Node(f"replica-{n + 1}", "rds-replica", "RDS read replica", topology.az_group(letter, data)))
        edges.append(Edge("db", f"replica-{n + 1}", "async"))
    return Architecture("Stage 8: users > 500,000+", tuple(nodes), topology.standard_groups(), tuple(edges))


ARCHITECTURE = _architecture()

BILLED_REPLICAS = 2 * REPLICAS_PER_AZ  # slide 20: a read replica in each AZ
BILL = (s01_day_one.ADMIN_BOX
        + bill.box(s03_web_and_database.WEB_TYPE, 2 * WEB_PER_AZ, f"Auto Scaling, {WEB_PER_AZ} per AZ")
        + bill.alb() + bill.db(PRIMARY_CLASS, True) + bill.replica(s03_web_and_database.DB_CLASS, BILLED_REPLICAS)
        + bill.edge(s06_shift_load.CACHE_NODE_TYPE, 2) + bill.zone() + bill.alarms(2))

STAGE = register(Stage(
    number=8,
    slug="users_500k",
    title="Users > 500,000+",
    slides="20",
    users="> 500,000",
    goal="See slide 20's whole architecture live: auto-scaled web tier in two AZs, ElastiCache and a read replica "
         "per AZ, RDS Multi-AZ, DynamoDB, S3 + CloudFront, the load balancer and Route 53.",
    architecture=ARCHITECTURE,
    builds_on=(1, 3, 4, 5, 6, 7),
    checks=(
        Check("web-tier", _web_tier, "3+ healthy web instances per AZ behind the load balancer, the group's among them"),
        Check("slide-20", _slide_20, "every component of slide 20 is live"),
        Check("serves-500k", _serves_500k, "traffic standing for 500,000 users through www is served: errors < 1%, "
                                           "p95 < 500 ms, answers from both AZs (s08_proof)"),
    ),
    build=build,
    exercises=EXERCISES,
    bill=BILL,
    band=Band(500_001, slide="20"),
))
