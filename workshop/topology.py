"""The live topology: what exists on the target, read with describe calls, as plain data.

`read(run_id=None)` returns a `Topology` of the course's resources (tagged
`workshop:course`, and `workshop:run` when a run id is given): instances (role from the tag
`workshop:role`), load balancers with healthy targets per AZ, databases (Multi-AZ standby,
replicas), caches, Auto Scaling groups, CloudFront distributions, tables, buckets, Lambda
functions, APIs, Firehose streams, Elastic IPs and Route 53 zones with their records.
Stage notebooks draw the live diagram from it (`live_architecture`), checks inspect it,
and the capacity model computes users from it.

`live_architecture(topology, name)` groups nodes by Availability Zone ("Availability Zone
A", from the AZ name's last letter) and tier ("Web tier": EC2; "Data tier": RDS,
ElastiCache); regional services sit outside any group. Stage targets use the same groups
(`standard_groups()`, `az_group(letter, tier)`), so `stage.architecture.diff(live)` names
what is missing and what is extra.
"""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from . import aws, inventory, tags
from .architecture import Architecture, Edge, Group, Node


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
class ElasticIP:
    public_ip: str
    allocation_id: str
    instance_id: str | None = None
    name: str = ""


@dataclass
class HostedZone:
    id: str
    name: str  # "example.com." as Route 53 writes it
    records: list[str] = field(default_factory=list)  # "www.example.com. A 1.2.3.4", "... A ALIAS dns"


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
    elastic_ips: list[ElasticIP] = field(default_factory=list)
    zones: list[HostedZone] = field(default_factory=list)

    def running(self, role: str | None = None) -> list[Instance]:
        return [i for i in self.instances if i.state == "running" and (role is None or i.role == role)]

    @property
    def azs(self) -> list[str]:
        return sorted({i.az for i in self.instances} | {d.az for d in self.databases})

    @property
    def is_empty(self) -> bool:
        return not any(getattr(self, f) for f in self.__dataclass_fields__)


# --- reading the live account ---------------------------------------------------------
#
# One tagging-API call finds the course's tagged resources (RDS, ELBv2, ElastiCache,
# CloudFront, DynamoDB, S3, Lambda, Firehose); EC2 instances, Elastic IPs, Auto Scaling
# groups, Route 53 zones and API Gateway APIs are listed with their own tag filters. The
# readers run in parallel threads: a few dozen small calls, well under a second locally.
# Never an unfiltered describe_images (seconds on moto, pages of results on AWS).

#: instance states that count as "exists" (terminated ones are gone for the course)
LIVE_STATES = ("pending", "running", "stopping", "stopped")


def _client(service: str):
    """A client from the one factory (which keeps them: the readers and the stage helpers share them)."""
    return aws.client(service)


def _ec2_filters(run_id: str | None) -> list[dict]:
    return [{"Name": f"tag:{f['Key']}", "Values": f["Values"]} for f in tags.filters(run_id)]


def _tagged_arns(run_id: str | None) -> dict[str, list[tuple[str, dict]]]:
    """ARN -> tags of every course resource the tagging API knows, grouped by 'service:type'."""
    out: dict[str, list[tuple[str, dict]]] = {}
    for arn, t in inventory.tagged(run_id):
        out.setdefault(_arn_kind(arn), []).append((arn, t))
    return out


def _arn_kind(arn: str) -> str:
    parts = arn.split(":", 5)
    service, rest = parts[2], parts[5] if len(parts) > 5 else ""
    if service == "s3":
        return "s3:bucket"
    sub = rest.replace(":", "/").split("/")[0]
    return f"{service}:{sub}"


def _read_instances(run_id):
    ec2 = _client("ec2")
    filters = _ec2_filters(run_id) + [{"Name": "instance-state-name", "Values": list(LIVE_STATES)}]
    out = []
    for page in ec2.get_paginator("describe_instances").paginate(Filters=filters):
        for reservation in page["Reservations"]:
            for i in reservation["Instances"]:
                t = tags.as_dict(i.get("Tags"))
                out.append(Instance(
                    id=i["InstanceId"], type=i["InstanceType"], az=i["Placement"]["AvailabilityZone"],
                    state=i["State"]["Name"], name=t.get("Name", ""), role=t.get("workshop:role", ""),
                    public_ip=i.get("PublicIpAddress"), stage=t.get(tags.STAGE_KEY, ""),
                ))
    return sorted(out, key=lambda i: (i.az, i.name, i.id))


def _read_addresses(run_id):
    ec2 = _client("ec2")
    out = []
    for a in ec2.describe_addresses(Filters=_ec2_filters(run_id)).get("Addresses", []):
        out.append(ElasticIP(a["PublicIp"], a.get("AllocationId", ""), a.get("InstanceId"),
                             tags.as_dict(a.get("Tags")).get("Name", "")))
    return out


def _read_groups(run_id):
    asg = _client("autoscaling")
    filters = _ec2_filters(run_id)
    out = []
    for page in asg.get_paginator("describe_auto_scaling_groups").paginate(Filters=filters):
        for g in page["AutoScalingGroups"]:
            if not tags.is_course(g.get("Tags"), run_id):  # in case a target ignores the filter
                continue
            out.append(AutoScalingGroup(
                name=g["AutoScalingGroupName"], min=g["MinSize"], max=g["MaxSize"], desired=g["DesiredCapacity"],
                azs=sorted(g.get("AvailabilityZones", [])),
                instance_ids=[i["InstanceId"] for i in g.get("Instances", [])
                              if i.get("LifecycleState") not in ("Terminating", "Terminated")],
            ))
    return out


def _read_zones(run_id):
    r53 = _client("route53")
    zones = r53.list_hosted_zones().get("HostedZones", [])
    ids = [z["Id"].split("/")[-1] for z in zones]
    tag_sets = {}
    for start in range(0, len(ids), 10):  # the API takes at most 10 ids a call
        answer = r53.list_tags_for_resources(ResourceType="hostedzone", ResourceIds=ids[start:start + 10])
        for s in answer.get("ResourceTagSets", []):
            tag_sets[s["ResourceId"].split("/")[-1]] = s.get("Tags", [])
    out = []
    for zone, zone_id in zip(zones, ids):
        if not tags.is_course(tag_sets.get(zone_id), run_id):
            continue
        hz = HostedZone(zone_id, zone["Name"])
        for page in r53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id):
            for rr in page["ResourceRecordSets"]:
                if rr["Type"] in ("NS", "SOA"):
                    continue
                if "AliasTarget" in rr:
                    hz.records.append(f"{rr['Name']} {rr['Type']} ALIAS {rr['AliasTarget']['DNSName']}")
                else:
                    values = ",".join(r["Value"] for r in rr.get("ResourceRecords", []))
                    hz.records.append(f"{rr['Name']} {rr['Type']} {values}")
        out.append(hz)
    return out


def _read_apis(run_id):
    out = []
    for api in _client("apigateway").get_rest_apis().get("items", []):
        untagged_but_named = not api.get("tags") and api["name"].startswith(tags.prefix(run_id))
        if tags.is_course(api.get("tags"), run_id) or untagged_but_named:
            out.append(api["name"])
    return sorted(out)


def _read_load_balancers(arns, instance_azs):
    if not arns:
        return []
    elb = _client("elbv2")
    out = []
    for lb in elb.describe_load_balancers(LoadBalancerArns=arns)["LoadBalancers"]:
        item = LoadBalancer(
            name=lb["LoadBalancerName"], arn=lb["LoadBalancerArn"], type=lb.get("Type", "application"),
            azs=sorted(z["ZoneName"] for z in lb.get("AvailabilityZones", [])), dns=lb.get("DNSName", ""),
        )
        for tg in elb.describe_target_groups(LoadBalancerArn=lb["LoadBalancerArn"])["TargetGroups"]:
            item.target_groups.append(tg["TargetGroupArn"])
            health = elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]
            _learn_azs([d["Target"]["Id"] for d in health], instance_azs)
            for d in health:
                target = d["Target"]
                az = target.get("AvailabilityZone") or instance_azs.get(target["Id"], "")
                item.healthy_by_az.setdefault(az, 0)
                if d["TargetHealth"]["State"] == "healthy":
                    item.healthy_by_az[az] += 1
        out.append(item)
    return out


def _learn_azs(target_ids: list[str], instance_azs: dict[str, str]) -> None:
    """Add the AZs of instance targets the course's tag filter did not return (e.g. untagged ones)."""
    unknown = [t for t in target_ids if t.startswith("i-") and t not in instance_azs]
    if not unknown:
        return
    try:
        for r in _client("ec2").describe_instances(InstanceIds=unknown)["Reservations"]:
            for i in r["Instances"]:
                instance_azs[i["InstanceId"]] = i["Placement"]["AvailabilityZone"]
    except ClientError:  # an id that vanished meanwhile: its AZ stays unknown ("")
        pass


def _read_databases(arns):
    if not arns:
        return []
    rds = _client("rds")
    out = []
    answer = rds.describe_db_instances(Filters=[{"Name": "db-instance-id", "Values": arns}])
    for db in answer["DBInstances"]:
        source = db.get("ReadReplicaSourceDBInstanceIdentifier")
        out.append(Database(
            id=db["DBInstanceIdentifier"], engine=db["Engine"], instance_class=db["DBInstanceClass"],
            az=db.get("AvailabilityZone", ""), role="replica" if source else "primary",
            multi_az=bool(db.get("MultiAZ")), secondary_az=db.get("SecondaryAvailabilityZone"),
            source=source.split(":")[-1] if source else None, status=db.get("DBInstanceStatus", ""),
            endpoint=(db.get("Endpoint") or {}).get("Address", ""),
        ))
    return sorted(out, key=lambda d: (d.role != "primary", d.id))


def _read_caches(arns):
    if not arns:
        return []
    ec = _client("elasticache")
    wanted = set(arns)
    out = []
    for page in ec.get_paginator("describe_cache_clusters").paginate(ShowCacheNodeInfo=True):
        for c in page["CacheClusters"]:
            if c.get("ARN") not in wanted:
                continue
            role = "primary"
            group = c.get("ReplicationGroupId")
            out.append(Cache(c["CacheClusterId"], c["Engine"], c["CacheNodeType"],
                             c.get("PreferredAvailabilityZone", ""), role, group))
    groups = {c.group for c in out if c.group}
    for gid in groups:  # a replication group names its primary; the others are replicas
        try:
            rg = ec.describe_replication_groups(ReplicationGroupId=gid)["ReplicationGroups"][0]
        except Exception:
            continue
        for ng in rg.get("NodeGroups", []):
            for member in ng.get("NodeGroupMembers", []):
                for c in out:
                    if c.id == member.get("CacheClusterId") and member.get("CurrentRole"):
                        c.role = "replica" if member["CurrentRole"] == "replica" else "primary"
    return sorted(out, key=lambda c: (c.role != "primary", c.id))


def _read_distributions(arns):
    if not arns:
        return []
    cf = _client("cloudfront")
    out = []
    for arn in arns:
        cfg = cf.get_distribution(Id=arn.split("/")[-1])["Distribution"]
        conf = cfg["DistributionConfig"]
        origin_domain = {o["Id"]: o["DomainName"] for o in conf["Origins"].get("Items", [])}
        behaviours = {"*": conf["DefaultCacheBehavior"]["TargetOriginId"]}
        for b in conf.get("CacheBehaviors", {}).get("Items", []) or []:
            behaviours[b["PathPattern"]] = b["TargetOriginId"]
        out.append(Distribution(cfg["Id"], cfg["DomainName"], list(origin_domain.values()), behaviours))
    return out


def _read_tables(arns):
    if not arns:
        return []
    ddb = _client("dynamodb")
    out = []
    for arn in arns:
        name = arn.split("/")[1]
        table = ddb.describe_table(TableName=name)["Table"]
        ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"].get("TimeToLiveStatus")
        out.append(Table(name, ttl=ttl in ("ENABLED", "ENABLING"),
                         stream=bool(table.get("StreamSpecification", {}).get("StreamEnabled"))))
    return sorted(out, key=lambda t: t.name)


def _names(arns, sep=":"):
    return sorted(a.rsplit(sep, 1)[-1] for a in arns)


class _InContext:
    """A pool whose tasks run in a copy of the submitter's context (ContextVars such as the current target)."""

    def __init__(self, pool: ThreadPoolExecutor):
        self.pool = pool

    def submit(self, fn, *args):
        return self.pool.submit(contextvars.copy_context().run, fn, *args)


def read(run_id: str | None = None) -> Topology:
    """The course's resources on the current target (one run's, if `run_id` is given)."""
    with ThreadPoolExecutor(max_workers=6) as plain:
        pool = _InContext(plain)  # the readers see this thread's target (config.using), not only the environment's
        f_arns = pool.submit(_tagged_arns, run_id)
        f_instances = pool.submit(_read_instances, run_id)
        f_addresses = pool.submit(_read_addresses, run_id)
        f_groups = pool.submit(_read_groups, run_id)
        f_zones = pool.submit(_read_zones, run_id)
        by_kind = f_arns.result()
        # API Gateway APIs: the tagging API lists them on AWS but not on moto; the course makes
        # them only beside Lambda functions, so ask API Gateway only then (its first call on a
        # fresh local AWS costs seconds)
        wants_apis = any(k.startswith(("apigateway:", "lambda:")) for k in by_kind)
        f_apis = pool.submit(_read_apis, run_id) if wants_apis else None
        instances = f_instances.result()
        azs = {i.id: i.az for i in instances}

        def arns(kind):
            return [a for a, _ in by_kind.get(kind, [])]

        f_lbs = pool.submit(_read_load_balancers, arns("elasticloadbalancing:loadbalancer"), dict(azs))
        f_dbs = pool.submit(_read_databases, arns("rds:db"))
        f_caches = pool.submit(_read_caches, arns("elasticache:cluster"))
        f_dists = pool.submit(_read_distributions, arns("cloudfront:distribution"))
        f_tables = pool.submit(_read_tables, arns("dynamodb:table"))
        zones = f_zones.result()
        topo = Topology(
            instances=instances,
            load_balancers=f_lbs.result(),
            databases=f_dbs.result(),
            caches=f_caches.result(),
            auto_scaling_groups=f_groups.result(),
            distributions=f_dists.result(),
            tables=f_tables.result(),
            buckets=_names(arns("s3:bucket")),
            functions=_names(arns("lambda:function")),
            apis=f_apis.result() if f_apis else [],
            delivery_streams=_names(arns("firehose:deliverystream"), "/"),
            dns_records=[r for z in zones for r in z.records],
            elastic_ips=f_addresses.result(),
            zones=zones,
        )
    return topo


# --- the live architecture --------------------------------------------------------------
#
# The convention stage targets follow so that `target.diff(live)` compares like with like:
# AZ groups labelled "Availability Zone A", "... B" (from the AZ name's last letter), each
# holding a "Web tier" (EC2) and a "Data tier" (RDS, ElastiCache); regional services
# (Route 53, Elastic IP, load balancer, Auto Scaling group, CloudFront, S3, DynamoDB,
# Lambda, API Gateway, Firehose) sit outside any group. `standard_groups()` gives targets
# the same groups; `az_group(letter, tier)` names the group a target's node sits in.

WEB_TIER = "Web tier"
DATA_TIER = "Data tier"


def az_letter(az: str) -> str:
    """'us-east-1b' -> 'B' (the course builds in the region's first AZs, named by letter)."""
    return az[-1:].upper() if az else "?"


def az_group(letter: str, tier: str | None = None) -> str:
    """The id of an AZ group ('az-a') or of a tier inside it ('az-a-web', 'az-a-data')."""
    base = f"az-{letter.lower()}"
    if tier is None:
        return base
    return f"{base}-{'web' if tier == WEB_TIER else 'data'}"


def standard_groups(letters=("A", "B")) -> tuple[Group, ...]:
    """The AZ and tier groups a target architecture uses, for AZs with these letters."""
    out = []
    for letter in letters:
        out.append(Group(az_group(letter), f"Availability Zone {letter}"))
        out.append(Group(az_group(letter, WEB_TIER), WEB_TIER, parent=az_group(letter)))
        out.append(Group(az_group(letter, DATA_TIER), DATA_TIER, parent=az_group(letter)))
    return tuple(out)


def _points_at(records: list[str], value: str, front: str | None, dns: str | None) -> bool:
    """Draw DNS -> value when a record answers with it (or, without DNS, users -> value)."""
    if front is None:
        return False
    if dns is None:
        return True
    return (value or "").rstrip(".").lower() in records


def _serves_bucket(distribution, bucket: str) -> bool:
    """True when one of the distribution's origins is the S3 bucket `bucket` (or its origins are unknown)."""
    origins = [o.lower() for o in getattr(distribution, "origins", None) or []]
    if not origins:
        return True
    return any(o.split("/")[0].startswith(f"{bucket.lower()}.s3") for o in origins)


def live_architecture(topology: Topology, name: str = "Live architecture") -> Architecture:
    """The architecture that exists, grouped by AZ and tier, comparable with a stage's target."""
    nodes: list[Node] = []
    edges: list[Edge] = []
    used: set[str] = set()

    def group_for(az: str, tier: str) -> str:
        letter = az_letter(az)
        used.add(letter)
        return az_group(letter, tier)

    def add(node: Node) -> str:
        nodes.append(node)
        return node.id

    entry = None
    if not topology.is_empty:
        entry = add(Node("user", "user", "Users"))
    dns = None
    if topology.zones or topology.dns_records:
        zone_names = ", ".join(z.name.rstrip(".") for z in topology.zones) or "Route 53"
        dns = add(Node("route53", "route53", f"Route 53\n{zone_names}"))
        edges.append(Edge(entry, dns, "DNS"))
    front = dns or entry
    records = [r.split(" ")[-1].rstrip(".").lower() for r in topology.dns_records]
    cdn_ids = []
    for n, d in enumerate(topology.distributions):
        cdn_ids.append(add(Node(f"cloudfront-{n}", "cloudfront", f"CloudFront\n{d.id}")))
        if _points_at(records, d.domain, front, dns):
            edges.append(Edge(front, cdn_ids[-1]))
    lb_ids = {}
    for n, lb in enumerate(topology.load_balancers):
        kind = "alb" if lb.type == "application" else "elb"
        lb_ids[lb.arn] = add(Node(f"lb-{n}", kind, f"{lb.name}\n({lb.type})"))
        if _points_at(records, lb.dns, front, dns) and not cdn_ids:
            edges.append(Edge(front, lb_ids[lb.arn]))
        for cdn in cdn_ids:
            edges.append(Edge(cdn, lb_ids[lb.arn], "dynamic"))
    for n, bucket in enumerate(topology.buckets):
        add(Node(f"s3-{n}", "s3", bucket))
        for cdn, d in zip(cdn_ids, topology.distributions):
            if _serves_bucket(d, bucket):  # not every bucket is an origin (stage 10's events bucket is Firehose's)
                edges.append(Edge(cdn, f"s3-{n}", "static"))
    by_instance = {}
    for n, ip in enumerate(topology.elastic_ips):
        eip = add(Node(f"eip-{n}", "eip", f"Elastic IP\n{ip.public_ip}"))
        if _points_at(records, ip.public_ip, front, dns):
            edges.append(Edge(front, eip))
        if ip.instance_id:
            by_instance[ip.instance_id] = eip
    asg_of = {}
    for n, g in enumerate(topology.auto_scaling_groups):
        gid = add(Node(f"asg-{n}", "autoscaling", f"{g.name}\nmin {g.min} · desired {g.desired} · max {g.max}"))
        for iid in g.instance_ids:
            asg_of[iid] = gid
    web_ids = []
    for i in topology.instances:
        state = "" if i.state == "running" else f" · {i.state}"
        nid = add(Node(f"ec2-{i.id}", "ec2", f"{i.name or i.id}\n{i.type}{state}", group_for(i.az, WEB_TIER)))
        web_ids.append(nid)
        if i.id in by_instance:
            edges.append(Edge(by_instance[i.id], nid))
        for lb in topology.load_balancers:
            edges.append(Edge(lb_ids[lb.arn], nid))
        if i.id in asg_of:
            edges.append(Edge(asg_of[i.id], nid, "scales"))
    db_ids = {}
    for d in topology.databases:
        kind = "rds-replica" if d.role == "replica" else "rds"
        label = f"{d.id}\n{d.engine} {d.instance_class}" + (" · read replica" if d.role == "replica" else "")
        db_ids[d.id] = add(Node(f"rds-{d.id}", kind, label, group_for(d.az, DATA_TIER)))
        if d.multi_az and d.secondary_az:
            standby = add(Node(f"rds-{d.id}-standby", "rds-standby", f"{d.id}\nstandby",
                               group_for(d.secondary_az, DATA_TIER)))
            edges.append(Edge(db_ids[d.id], standby, "sync"))
    for d in topology.databases:
        if d.source and d.source in db_ids:
            edges.append(Edge(db_ids[d.source], db_ids[d.id], "async"))
    primaries = [db_ids[d.id] for d in topology.databases if d.role == "primary"]
    for w in web_ids:
        for p in primaries[:1]:
            edges.append(Edge(w, p, "SQL"))
    for c in topology.caches:
        add(Node(f"cache-{c.id}", "elasticache", f"{c.id}\n{c.engine} {c.role}", group_for(c.az, DATA_TIER)))
    for t in topology.tables:
        add(Node(f"ddb-{t.name}", "dynamodb", t.name + ("\nTTL" if t.ttl else "")))
    for f in topology.functions:
        add(Node(f"lambda-{f}", "lambda", f))
    for a in topology.apis:
        add(Node(f"api-{a}", "apigateway", a))
    for s in topology.delivery_streams:
        add(Node(f"firehose-{s}", "firehose", s))
    groups = [g for g in standard_groups(tuple(sorted(used)))
              if any(n.group == g.id or (n.group or "").startswith(g.id + "-") for n in nodes)]
    return Architecture(name, tuple(nodes), tuple(groups), tuple(edges))
