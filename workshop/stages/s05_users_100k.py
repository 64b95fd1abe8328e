"""Stage 5, users > 10,000s-100,000s (slide 11): eight web instances over two AZs, four read replicas.

On stage 4's load balancer, target group and Multi-AZ database: the web tier grows to
eight instances spread evenly over both AZs (all registered in the target group), the
primary gets four read replicas spread over both AZs, and the application gets two names
in the run's zone: a writer endpoint (`db-writer`, a CNAME to the primary) and a reader
endpoint (`db-reader`, weighted CNAMEs over the replicas, Route 53 spreading reads).
Checks: the spread of the web tier, the replicas' status and spread, and the endpoints.
"""

from __future__ import annotations

from .. import bill, topology
from ..architecture import Architecture, Edge, Node
from ..errors import BadInput, WorkshopError
from ..exercises import Exercise
from . import Band, Check, CheckResult, Stage, infra, register, s01_day_one, s03_web_and_database, webtier

WEB_INSTANCES = 8  # slide 11: "8 web instances across 2 AZs"
READ_REPLICAS = 4  # slide 11: "4 RDS read replicas"
#: RDS for MySQL allows up to 15 read replicas per source instance (Amazon RDS User Guide,
#: "Working with DB instance read replicas")
MAX_REPLICAS = 15
MAX_WEB_INSTANCES = 20  # kit limit: a room of laptops on one local AWS
RECORD_TTL = 60
READS = 12  # GETs through www that the replica-reads check sends

def validate(web_instances, read_replicas) -> tuple[int, int]:
    """Both counts, checked before anything is created."""
    if not isinstance(web_instances, int) or isinstance(web_instances, bool) or web_instances < 2 \
            or web_instances % 2 or web_instances > MAX_WEB_INSTANCES:
        raise BadInput(f"web_instances={web_instances!r}: give an even number from 2 to {MAX_WEB_INSTANCES} "
                       "(the same number in each of the 2 AZs; the talk uses 8). Nothing was created.")
    if not isinstance(read_replicas, int) or isinstance(read_replicas, bool) or not 1 <= read_replicas <= MAX_REPLICAS:
        raise BadInput(f"read_replicas={read_replicas!r}: give 1 to {MAX_REPLICAS} (RDS for MySQL's limit per "
                       "source; the talk uses 4). Nothing was created.")
    return web_instances, read_replicas


def writer_name(ctx) -> str:
    return f"db-writer.{infra.domain(ctx)}"


def reader_name(ctx) -> str:
    return f"db-reader.{infra.domain(ctx)}"


def handed_to_auto_scaling(ctx) -> bool:
    """True once stage 7's Auto Scaling group runs the web tier (the hand-launched extras retire)."""
    groups = infra.client(ctx, "autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[ctx.name("web-asg")])["AutoScalingGroups"]
    return bool(groups)


# --- the web tier ---------------------------------------------------------------------------

def extra_web_names(ctx, web_instances: int = WEB_INSTANCES) -> list[tuple[str, int]]:
    """(name suffix, AZ index) of the instances stage 5 adds: web-a2.. and web-b2.. (stage 4 has web-a, web-b)."""
    per_az = web_instances // 2
    return [(f"web-{'ab'[az]}{k}", az) for k in range(2, per_az + 1) for az in (0, 1)]


def missing_web(ctx, web_instances: int = WEB_INSTANCES) -> list[tuple[str, str]]:
    """(Name tag, subnet id) of stage 5's web instances that do not exist yet; none once
    stage 7's Auto Scaling group runs the web tier (it replaced them)."""
    if handed_to_auto_scaling(ctx):
        return []
    subnets = webtier.public_subnets(ctx)
    planned = extra_web_names(ctx, web_instances)
    have = webtier.find_named(ctx, [suffix for suffix, _ in planned])
    return [(ctx.name(suffix), subnets[az]["SubnetId"]) for suffix, az in planned if suffix not in have]


def extra_web_ids(ctx, web_instances: int = WEB_INSTANCES) -> list[str]:
    """The ids of stage 5's extra web instances that exist."""
    have = webtier.find_named(ctx, [suffix for suffix, _ in extra_web_names(ctx, web_instances)])
    return [i["InstanceId"] for i in have.values()]


def web_template(ctx) -> dict:
    """The AMI, type and security groups of the stage-4 web instance in AZ A, to clone."""
    first = infra.find_instance(ctx, "web-a")
    if first is None:
        raise WorkshopError(f"no instance {ctx.name('web-a')}: stage 4 builds it; run ws.build_previous()")
    return {"ImageId": first["ImageId"], "InstanceType": first["InstanceType"],
            "SecurityGroupIds": [g["GroupId"] for g in first["SecurityGroups"]]}


def user_data(ctx) -> str:
    """What a stage-5 web instance runs: the app (workshop/webapp), writing to the primary's name and
    reading from the replicas' name."""
    return webtier.app_user_data(ctx, 5, "users > 100,000: writes to the primary, reads from the replicas",
                                 writer_name(ctx), reader_name(ctx),
                                 secret_arn=webtier.db_secret_arn(s03_web_and_database.find_db(ctx)))


def reconfigure_first_two(ctx) -> None:
    """Stage 4's web-a and web-b get stage 5's app config (reads from the replicas), one at a time: stop,
    new user data, start (a no-op when they have it)."""
    for instance in webtier.find_named(ctx, ["web-a", "web-b"]).values():
        infra.resize(ctx, instance["InstanceId"], instance["InstanceType"], user_data=user_data(ctx))


def ensure_web(ctx, web_instances: int = WEB_INSTANCES) -> list[str]:
    """Give web-a and web-b stage 5's config, launch the missing web instances, register every one in
    the target group; their ids."""
    ec2 = infra.client(ctx, "ec2")
    template = web_template(ctx)
    reconfigure_first_two(ctx)
    for name, subnet_id in missing_web(ctx, web_instances):
        ec2.run_instances(MinCount=1, MaxCount=1, SubnetId=subnet_id, UserData=user_data(ctx),
                          TagSpecifications=infra.tag_spec(ctx, "instance", name, role=webtier.WEB_ROLE), **template)
    ids = extra_web_ids(ctx, web_instances)
    for instance in webtier.instances(ctx, ids):
        if instance["State"]["Name"] != "running":
            infra.ensure_running(ctx, instance)
    tg = webtier.require(ctx, "target group", webtier.find_target_group(ctx))
    registered = webtier.target_ids(ctx, tg["TargetGroupArn"])
    new = [i for i in ids if i not in registered]
    if new:
        infra.client(ctx, "elbv2").register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": i} for i in new])
    return ids


# --- the read replicas and the endpoints ----------------------------------------------------------

def replica_plan(ctx, read_replicas: int = READ_REPLICAS) -> list[tuple[str, str]]:
    """(replica id, AZ): db-replica-1 in AZ A, -2 in B, -3 in A, ..."""
    azs = [s["AvailabilityZone"] for s in webtier.private_subnets(ctx)]
    return [(ctx.name(f"db-replica-{n + 1}"), azs[n % 2]) for n in range(read_replicas)]


def ensure_replicas(ctx, read_replicas: int = READ_REPLICAS) -> list[dict]:
    rds = infra.client(ctx, "rds")
    primary = webtier.require(ctx, "primary database", webtier.find_primary_db(ctx))
    have = {d["DBInstanceIdentifier"] for d in webtier.replicas_of(ctx, primary["DBInstanceIdentifier"])}
    for replica_id, az in replica_plan(ctx, read_replicas):
        if replica_id not in have:
            rds.create_db_instance_read_replica(
                DBInstanceIdentifier=replica_id, SourceDBInstanceIdentifier=primary["DBInstanceIdentifier"],
                DBInstanceClass=primary["DBInstanceClass"], AvailabilityZone=az, MultiAZ=False,
                Tags=ctx.tag_list() + [{"Key": infra.ROLE_KEY, "Value": "read-replica"}])
    from .. import waits

    replicas = webtier.replicas_of(ctx, primary["DBInstanceIdentifier"])
    for replica in replicas:
        if replica["DBInstanceStatus"] != "available":
            waits.waiter(rds, "db_instance_available", f"read replica {replica['DBInstanceIdentifier']}",
                         typical_s=600, DBInstanceIdentifier=replica["DBInstanceIdentifier"])
    return webtier.replicas_of(ctx, primary["DBInstanceIdentifier"]) if any(
        r["DBInstanceStatus"] != "available" for r in replicas) else replicas


def reader_changes(ctx, replicas: list[dict]) -> list[dict]:
    """Route 53 changes: one weighted CNAME per replica under the reader name (equal weights)."""
    return [{"Action": "UPSERT", "ResourceRecordSet": {
        "Name": reader_name(ctx), "Type": "CNAME", "SetIdentifier": r["DBInstanceIdentifier"], "Weight": 1,
        "TTL": RECORD_TTL, "ResourceRecords": [{"Value": r["Endpoint"]["Address"]}]}} for r in replicas]


def ensure_endpoints(ctx, replicas: list[dict]) -> None:
    primary = webtier.require(ctx, "primary database", webtier.find_primary_db(ctx))
    zone_id = infra.ensure_zone(ctx)
    changes = [{"Action": "UPSERT", "ResourceRecordSet": {
        "Name": writer_name(ctx), "Type": "CNAME", "TTL": RECORD_TTL,
        "ResourceRecords": [{"Value": primary["Endpoint"]["Address"]}]}}] + reader_changes(ctx, replicas)
    have = {(rr["Name"].rstrip("."), rr.get("SetIdentifier"), rr["ResourceRecords"][0]["Value"])
            for name in (writer_name(ctx), reader_name(ctx)) for rr in webtier.zone_records(ctx, name)}
    wanted = [c for c in changes if (c["ResourceRecordSet"]["Name"], c["ResourceRecordSet"].get("SetIdentifier"),
                                     c["ResourceRecordSet"]["ResourceRecords"][0]["Value"]) not in have]
    if wanted:
        infra.client(ctx, "route53").change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": wanted})


def build(ctx, web_instances: int = WEB_INSTANCES, read_replicas: int = READ_REPLICAS) -> None:
    """Build stage 5 idempotently on stages 1, 3 and 4 (built by `ws.build_previous()`)."""
    validate(web_instances, read_replicas)
    if not handed_to_auto_scaling(ctx):
        ensure_web(ctx, web_instances)
    ensure_endpoints(ctx, ensure_replicas(ctx, read_replicas))


# --- checks -------------------------------------------------------------------------------------

def web_targets(ctx) -> tuple[list[dict], dict[str, str]]:
    tg = webtier.find_target_group(ctx)
    if tg is None:
        return [], {}
    health = webtier.target_ids(ctx, tg["TargetGroupArn"])
    return webtier.instances(ctx, list(health)), health


def _spread(ctx, expected: int = WEB_INSTANCES) -> CheckResult:
    found, health = web_targets(ctx)
    running = [i for i in found if i["State"]["Name"] == "running"]
    counts = webtier.by_az(running)
    shown = ", ".join(f"{az}: {n}" for az, n in sorted(counts.items())) or "none"
    unhealthy = sorted(i for i, state in health.items() if state != "healthy")
    if handed_to_auto_scaling(ctx):  # stage 7 replaced the hand-launched fleet: spread still matters
        if len(counts) != 2 or max(counts.values()) - min(counts.values()) > 1 or unhealthy:
            return CheckResult("spread", False, f"the web tier (now stage 7's Auto Scaling group) is uneven or unhealthy: "
                                                f"{shown}, {len(unhealthy)} unhealthy")
        return CheckResult("spread", True, f"{len(running)} healthy web instances, {shown} "
                                           "(stage 7's Auto Scaling group now sizes the tier)")
    if len(running) != expected or len(counts) != 2 or len(set(counts.values())) != 1:
        return CheckResult("spread", False, f"expected {expected} running web instances in the target group, "
                                            f"{expected // 2} per AZ; found {shown}. Launch the missing ones and register them")
    if unhealthy:
        return CheckResult("spread", False, f"{len(unhealthy)} target(s) not healthy ({', '.join(unhealthy[:3])}): "
                                            "start them or wait for the health checks")
    return CheckResult("spread", True, f"{expected} healthy web instances, {shown}")


def _replicas(ctx, expected: int = READ_REPLICAS) -> CheckResult:
    primary = webtier.find_primary_db(ctx)
    if primary is None:
        return CheckResult("replicas", False, "no primary database: stage 4 builds it; run ws.build_previous()")
    replicas = webtier.replicas_of(ctx, primary["DBInstanceIdentifier"])
    if len(replicas) != expected:
        return CheckResult("replicas", False, f"expected {expected} read replicas of {primary['DBInstanceIdentifier']}, "
                                              f"found {len(replicas)}: create the missing ones with create_db_instance_read_replica")
    not_ready = [f"{r['DBInstanceIdentifier']} ({r['DBInstanceStatus']})" for r in replicas
                 if r["DBInstanceStatus"] != "available"]
    if not_ready:
        return CheckResult("replicas", False, f"replicas not available: {', '.join(not_ready)}")
    azs = sorted({r["AvailabilityZone"] for r in replicas})
    if expected > 1 and len(azs) < 2:
        return CheckResult("replicas", False, f"all {expected} replicas are in {azs[0]}: spread them over both AZs "
                                              "(AvailabilityZone=) so one AZ's loss keeps readers")
    return CheckResult("replicas", True, f"{expected} read replicas of {primary['DBInstanceIdentifier']}, available, "
                                         f"in {', '.join(azs)}")


def _endpoints(ctx) -> CheckResult:
    primary = webtier.find_primary_db(ctx)
    if primary is None:
        return CheckResult("endpoints", False, "no primary database: stage 4 builds it")
    writer = webtier.zone_records(ctx, writer_name(ctx))
    if [rr["ResourceRecords"][0]["Value"] for rr in writer] != [primary["Endpoint"]["Address"]]:
        return CheckResult("endpoints", False, f"expected {writer_name(ctx)} -> {primary['Endpoint']['Address']} "
                                               f"(the primary), found {[rr['ResourceRecords'][0]['Value'] for rr in writer] or 'no record'}")
    replicas = {r["Endpoint"]["Address"] for r in webtier.replicas_of(ctx, primary["DBInstanceIdentifier"])}
    readers = {rr["ResourceRecords"][0]["Value"] for rr in webtier.zone_records(ctx, reader_name(ctx))}
    if not replicas or readers != replicas:
        missing, extra = sorted(replicas - readers), sorted(readers - replicas)
        return CheckResult("endpoints", False, f"{reader_name(ctx)} should spread over every replica: "
                                               f"missing {missing or 'none'}, not a replica {extra or 'none'}")
    return CheckResult("endpoints", True, f"writes -> {writer_name(ctx)} (primary); reads -> {reader_name(ctx)} "
                                          f"(weighted over {len(readers)} replicas)")


def _replica_reads(ctx) -> CheckResult:
    """GETs through www: every page's messages read through the reader name (`X-Data-Source: reader`)."""
    from collections import Counter

    from . import replica_reads

    name = "replica-reads"
    try:
        samples = replica_reads.reads(ctx, READS)
    except WorkshopError as exc:
        return CheckResult(name, False, f"www does not answer: {exc}")
    sources = Counter(s.source or s.error or "no answer" for s in samples)
    shown = ", ".join(f"{k}: {v}" for k, v in sorted(sources.items()))
    if set(sources) <= {"reader", "cache"} and sources.get("reader"):
        return CheckResult(name, True, f"{len(samples)} pages through www, messages read from: {shown} "
                                       f"({reader_name(ctx)})")
    if set(sources) == {"cache"}:
        return CheckResult(name, True, f"{len(samples)} pages through www all read from the cache (stage 6): the "
                                       "replicas serve its misses")
    return CheckResult(name, False, f"expected {len(samples)} pages through www read from the replicas "
                                    f"(X-Data-Source: reader), found {shown}: the web instances need stage 5's user "
                                    f"data (reader {reader_name(ctx)}), and the replicas and their records must exist")


def _replica_lag(ctx) -> CheckResult:
    from . import replica_reads

    name = "replica-lag"
    try:
        lag = replica_reads.lag(ctx)
    except WorkshopError as exc:
        return CheckResult(name, False, str(exc))
    if lag.visible_after_s is None:
        return CheckResult(name, False, f"a row written on the primary did not reach {lag.replica} within "
                                        f"{replica_reads.LAG_TIMEOUT_S:g} s: is it replicating? (its ReplicaLag metric)")
    stale = "not there when read at once (stale), " if lag.stale_at_once else "there at once, "
    return CheckResult(name, True, f"a row written on the primary was {stale}on {lag.replica} after "
                                   f"{lag.visible_after_s:.1f} s: replicas are asynchronous")


def _survives_replica_loss(ctx) -> CheckResult:
    from . import replica_reads

    name = "survives-replica-loss"
    try:
        loss = replica_reads.lose_replica(ctx)
    except WorkshopError as exc:
        return CheckResult(name, False, f"the replica-loss drill could not start: {exc}")
    failed, after = loss.failed(loss.lost_at), loss.sources(loss.lost_at)
    if failed or not (after.get("reader") or after.get("cache")):
        shown = ", ".join(f"{k}: {v}" for k, v in sorted(after.items()))
        return CheckResult(name, False, f"with {loss.replica} deleted, {len(failed)} pages through www failed "
                                        f"({shown}): the app must read through {reader_name(ctx)}, over every replica")
    return CheckResult(name, True, f"{loss.replica} deleted under traffic: {after.get('reader', 0)} pages read from "
                                   f"the other replicas, 0 failed; rebuilt in {loss.restored_s:.1f} s")


# --- the exercise ---------------------------------------------------------------------------------

def _check_reader_changes(value, namespace) -> str | None:
    ws = namespace.get("ws")
    replicas = namespace.get("replicas") or []
    if not isinstance(value, list) or not all(isinstance(c, dict) for c in value):
        return f"expected a list of Route 53 change dicts, found {type(value).__name__}"
    want = {r["Endpoint"]["Address"] for r in replicas}
    sets = [c.get("ResourceRecordSet", {}) for c in value]
    if any(c.get("Action") not in ("UPSERT", "CREATE") for c in value):
        return "expected each change's Action to be 'UPSERT'"
    if ws is not None and any(s.get("Name", "").rstrip(".") != reader_name(ws) for s in sets):
        return f"expected every record named {reader_name(ws)}, found {sorted({s.get('Name') for s in sets})}"
    if any(s.get("Type") != "CNAME" for s in sets):
        return "expected Type 'CNAME' (a replica's endpoint is a DNS name)"
    ids = [s.get("SetIdentifier") for s in sets]
    if None in ids or len(set(ids)) != len(ids) or any(not isinstance(s.get("Weight"), int) for s in sets):
        return "expected weighted records: each with its own SetIdentifier and an integer Weight"
    values = {(s.get("ResourceRecords") or [{}])[0].get("Value") for s in sets}
    if values != want:
        return f"expected one record per replica endpoint ({len(want)}), found {len(values)} matching {len(values & want)}"
    return None


EXERCISES = (Exercise(
    "s05-reader-records", 5, "changes", _check_reader_changes,
    "one UPSERT per replica: {'Name': reader, 'Type': 'CNAME', 'SetIdentifier': <replica id>, 'Weight': 1, "
    "'TTL': 60, 'ResourceRecords': [{'Value': <replica endpoint>}]}",
),)


# --- the target architecture ----------------------------------------------------------------------

def _architecture(web_instances: int = WEB_INSTANCES, read_replicas: int = READ_REPLICAS) -> Architecture:
    web, data = topology.WEB_TIER, topology.DATA_TIER
    nodes = [Node("user", "user", "Users"), Node("dns", "route53", "Route 53\nwww, db-writer, db-reader"),
             Node("alb", "alb", "Application Load Balancer"), Node("eip", "eip", "Elastic IP\n(day 1; admin only)")]
    edges = [Edge("user", "dns", "DNS"), Edge("dns", "alb", "www alias")]
    for letter in "AB":
        for k in range(web_instances // 2):
            nid = f"web-{letter.lower()}{k + 1}"
            nodes.append(Node(nid, "ec2", f"web {letter}{k + 1}", topology.az_group(letter, web)))
            edges.append(Edge("alb", nid))
    nodes.append(Node("db", "rds", "RDS MySQL\nprimary (writer)", topology.az_group("A", data)))
    nodes.append(Node("standby", "rds-standby", "RDS standby\n(Multi-AZ)", topology.az_group("B", data)))
    edges.append(Edge("db", "standby", "sync"))
    for n in range(read_replicas):
        letter = "AB"[n % 2]
        nodes.append(Node(f"replica-{n + 1}", "rds-replica", f"read replica {n + 1}", topology.az_group(letter, data)))
        edges.append(Edge("db", f"replica-{n + 1}", "async"))
    edges += [Edge("web-a1", "db", "writes"), Edge("web-b1", "replica-2", "reads"), Edge("eip", "web-a1", "SSH")]
    return Architecture("Stage 5: users > 10,000s-100,000s", tuple(nodes), topology.standard_groups(), tuple(edges))


ARCHITECTURE = _architecture()

BILL = (s01_day_one.ADMIN_BOX + bill.box(s03_web_and_database.WEB_TYPE, WEB_INSTANCES, "web tier, 2 AZs") + bill.alb()
        + bill.db(s03_web_and_database.DB_CLASS, True, READ_REPLICAS) + bill.zone())

STAGE = register(Stage(
    number=5,
    slug="users_100k",
    title="Users > 10,000s-100,000s",
    slides="10-11",
    users="10,000s - 100,000s",
    goal="Scale out: eight web instances evenly over two AZs behind the load balancer, four read replicas, "
         "and writer and reader endpoints for the application.",
    architecture=ARCHITECTURE,
    builds_on=(1, 3, 4),
    checks=(
        Check("spread", _spread, "8 healthy web instances in the target group, 4 per AZ"),
        Check("replicas", _replicas, "4 read replicas of the primary, available, over both AZs"),
        Check("endpoints", _endpoints, "db-writer -> the primary; db-reader -> weighted over every replica"),
        Check("replica-reads", _replica_reads, "pages through www read their messages from the replicas"),
        Check("replica-lag", _replica_lag, "a write on the primary reaches a replica a moment later, not at once"),
        Check("survives-replica-loss", _survives_replica_loss,
              "a replica deleted under traffic: reads go on from the others; then rebuilt"),
    ),
    build=build,
    exercises=EXERCISES,
    bill=BILL,
    band=Band(10_000, 999_999, slide="11"),
))
