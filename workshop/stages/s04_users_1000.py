"""Stage 4, users > 1,000 (slide 9): a load balancer, a web instance per AZ, RDS Multi-AZ.

Two AZs, each with a public subnet (web instances, the load balancer) and a private one
(the database). An Application Load Balancer with an HTTP listener forwards to a target
group holding one web instance per AZ; RDS turns Multi-AZ (a synchronous standby in the
other AZ); `www` becomes a Route 53 alias of the load balancer. Behaviour: stop one AZ's
instance and its target stops being healthy while the other AZ serves (the check passes,
saying the stage is degraded); a forced failover swaps the database's primary and standby
AZs and keeps its endpoint. With traffic: GETs through `www` alternate between the two AZs
(`alternates`, `www.py`), and losing the primary's whole AZ under a steady probe costs a short
window of errors, then none with the other AZ serving, where stage 1's single box is down
throughout (`survives-az-loss`, `az_outage.py`).
"""

from __future__ import annotations

import time

from botocore.exceptions import ClientError

from .. import bill, topology, waits
from ..architecture import Architecture, Edge, Node
from ..errors import WorkshopError
from ..exercises import Exercise
from . import Band, Check, CheckResult, Stage, infra, register, s01_day_one, s03_web_and_database

AZ_COUNT = 2
REQUESTS = 8  # GETs through www that the alternates check sends
WEB_TYPE = s03_web_and_database.WEB_TYPE


def web_user_data(ctx) -> str:
    """What a web instance runs from stage 3 on: the app told the RDS endpoint (see s03_web_and_database)."""
    return s03_web_and_database.web_user_data(ctx)


def find_load_balancer(ctx) -> dict | None:
    try:
        return infra.client(ctx, "elbv2").describe_load_balancers(Names=[ctx.name("alb")])["LoadBalancers"][0]
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("LoadBalancerNotFound", "LoadBalancerNotFoundException"):
            return None
        raise


def find_target_group(ctx) -> dict | None:
    try:
        return infra.client(ctx, "elbv2").describe_target_groups(Names=[ctx.name("web-tg")])["TargetGroups"][0]
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("TargetGroupNotFound", "TargetGroupNotFoundException"):
            return None
        raise


def ensure_web_instance(ctx, suffix: str, subnet_id: str, web_sg: str, instance_type: str, endpoint: str) -> dict:
    instance = infra.find_instance(ctx, suffix)
    if instance is None:
        instance = infra.client(ctx, "ec2").run_instances(
            ImageId=infra.latest_ami(ctx), InstanceType=instance_type, MinCount=1, MaxCount=1,
            SubnetId=subnet_id, SecurityGroupIds=[web_sg], UserData=web_user_data(ctx),
            TagSpecifications=[{"ResourceType": "instance", "Tags": ctx.tag_list() + [
                {"Key": "Name", "Value": ctx.name(suffix)}, {"Key": infra.ROLE_KEY, "Value": "web"},
                {"Key": s03_web_and_database.ENDPOINT_TAG, "Value": endpoint}]}],
        )["Instances"][0]
    infra.ensure_running(ctx, instance)
    return instance


def build(ctx, az_count: int = AZ_COUNT) -> dict:
    """Two AZs behind an ALB, RDS Multi-AZ, www aliased to the ALB; idempotent."""
    azs = infra.validate_az_count(ctx, az_count)
    infra.ensure_previous(ctx, None in (infra.find_vpc(ctx), infra.find_security_group(ctx, "web"),
                                        infra.find_instance(ctx, "web-a"), s03_web_and_database.find_db(ctx)))
    vpc_id, web_sg = infra.find_vpc(ctx), infra.find_security_group(ctx, "web")
    web_a, db = infra.find_instance(ctx, "web-a"), s03_web_and_database.find_db(ctx)
    ec2, elb, rds, r53 = (infra.client(ctx, s) for s in ("ec2", "elbv2", "rds", "route53"))
    public = [infra.ensure_subnet(ctx, vpc_id, "public", i, az) for i, az in enumerate(azs)]
    alb_sg = infra.ensure_security_group(ctx, vpc_id, "alb", "load balancer: HTTP from anywhere", [
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    infra.ensure_running(ctx, web_a)
    web_b = ensure_web_instance(ctx, "web-b", public[1], web_sg, web_a["InstanceType"], db["Endpoint"]["Address"])
    tg = find_target_group(ctx) or elb.create_target_group(
        Name=ctx.name("web-tg"), Protocol="HTTP", Port=80, VpcId=vpc_id, TargetType="instance",
        HealthCheckProtocol="HTTP", HealthCheckPath="/", Tags=ctx.tag_list())["TargetGroups"][0]
    lb = find_load_balancer(ctx) or elb.create_load_balancer(
        Name=ctx.name("alb"), Subnets=public, SecurityGroups=[alb_sg], Scheme="internet-facing",
        Type="application", Tags=ctx.tag_list())["LoadBalancers"][0]
    waits.waiter(elb, "load_balancer_available", f"load balancer {ctx.name('alb')}", typical_s=180,
                 LoadBalancerArns=[lb["LoadBalancerArn"]])
    listeners = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    if not any(li["Port"] == 80 for li in listeners):
        elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    targets = [{"Id": web_a["InstanceId"]}, {"Id": web_b["InstanceId"]}]
    elb.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=targets)
    if waits.for_serving():
        waits.waiter(elb, "target_in_service", "web targets healthy", typical_s=90,
                     TargetGroupArn=tg["TargetGroupArn"], Targets=targets)
    if not db.get("MultiAZ"):
        rds.modify_db_instance(DBInstanceIdentifier=db["DBInstanceIdentifier"], MultiAZ=True, ApplyImmediately=True)
    waits.waiter(rds, "db_instance_available", f"RDS Multi-AZ {db['DBInstanceIdentifier']}", typical_s=900,
                 DBInstanceIdentifier=db["DBInstanceIdentifier"])
    zone_id = infra.ensure_zone(ctx)
    current = infra.record(ctx, zone_id, infra.www(ctx))
    alias = (current or {}).get("AliasTarget", {}).get("DNSName", "").rstrip(".").lower()
    # a later stage (6) may have moved www to CloudFront: rebuilding stage 4 leaves that alone
    if not current or (alias != lb["DNSName"].lower() and not alias.endswith(".cloudfront.net")):
        r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [{
            "Action": "UPSERT", "ResourceRecordSet": {"Name": infra.www(ctx), "Type": "A", "AliasTarget": {
                "HostedZoneId": lb["CanonicalHostedZoneId"], "DNSName": lb["DNSName"],
                "EvaluateTargetHealth": True}}}]})
    return {"alb": lb["LoadBalancerArn"], "dns": lb["DNSName"], "target_group": tg["TargetGroupArn"],
            "web": [web_a["InstanceId"], web_b["InstanceId"]], "public_subnets": public}


# --- checks ---------------------------------------------------------------------------------

def target_health_by_az(ctx) -> dict[str, list[tuple[str, str]]]:
    """AZ -> [(instance id, health state)] for the stage's target group."""
    tg = find_target_group(ctx)
    if tg is None:
        return {}
    health = infra.client(ctx, "elbv2").describe_target_health(
        TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]
    ids = [d["Target"]["Id"] for d in health]
    azs = {}
    if ids:
        for r in infra.client(ctx, "ec2").describe_instances(InstanceIds=ids)["Reservations"]:
            for i in r["Instances"]:
                azs[i["InstanceId"]] = i["Placement"]["AvailabilityZone"]
    out: dict[str, list[tuple[str, str]]] = {}
    for d in health:
        out.setdefault(azs.get(d["Target"]["Id"], "?"), []).append((d["Target"]["Id"], d["TargetHealth"]["State"]))
    return out


def _serving(ctx) -> CheckResult:
    by_az = target_health_by_az(ctx)
    if not by_az:
        return CheckResult("serving", False, f"no targets in {ctx.name('web-tg')}: register the web instances")
    healthy = {az: sum(1 for _, s in targets if s == "healthy") for az, targets in sorted(by_az.items())}
    up = [az for az, n in healthy.items() if n]
    down = [az for az, n in healthy.items() if not n]
    if not up:
        states = "; ".join(f"{i} {s}" for targets in by_az.values() for i, s in targets)
        return CheckResult("serving", False, f"the site is down: no healthy target in any AZ ({states})")
    if len(up) < AZ_COUNT:
        states = "; ".join(f"{i} {s}" for az in down for i, s in by_az[az])
        where = ", ".join(down) if down else "a second AZ"
        return CheckResult("serving", True, f"degraded: no healthy target in {where} ({states or 'no target'}); "
                                            f"{', '.join(up)} still serves", degraded=True)
    spread = " and ".join(f"{az} ({n})" for az, n in healthy.items())
    return CheckResult("serving", True, f"healthy targets in {spread}")


def _multi_az(ctx) -> CheckResult:
    db = s03_web_and_database.find_db(ctx)
    if db is None:
        return CheckResult("multi-az", False, f"no RDS instance {ctx.name('db')}: run stage 3")
    standby = db.get("SecondaryAvailabilityZone")
    if not db.get("MultiAZ") or not standby:
        return CheckResult("multi-az", False,
                           f"{db['DBInstanceIdentifier']} is single-AZ (in {db['AvailabilityZone']}): "
                           "modify_db_instance(MultiAZ=True, ApplyImmediately=True)")
    if standby == db["AvailabilityZone"]:
        return CheckResult("multi-az", False, f"primary and standby are both in {standby}: no AZ redundancy")
    return CheckResult("multi-az", True, f"primary in {db['AvailabilityZone']}, standby in {standby}, "
                                         f"endpoint {db['Endpoint']['Address']}")


def _dns(ctx) -> CheckResult:
    from . import dns

    lb = find_load_balancer(ctx)
    if lb is None:
        return CheckResult("dns", False, f"no load balancer {ctx.name('alb')}: run the create_load_balancer cell")
    answer = dns.resolve(ctx, infra.www(ctx))
    if answer is None or (answer.alias or "").lower() != lb["DNSName"].lower():
        return CheckResult("dns", False, f"expected {infra.www(ctx)} -> alias {lb['DNSName']}, found {answer}; "
                                         "UPSERT an alias A record")
    return CheckResult("dns", True, f"{answer} (the load balancer)")


def _alternates(ctx) -> CheckResult:
    """Eight GETs through www, as `curl -H 'Host: www...'` sends them: answered from both AZs in turn."""
    from . import www

    name = "alternates"
    try:
        where = www.where(ctx)
    except WorkshopError as exc:
        return CheckResult(name, False, f"www does not answer: {exc}")
    samples = www.get_many(where, REQUESTS)
    by_az, by_instance = www.spread(samples)
    deadline = time.monotonic() + www.FIRST_CHECK_S
    while len(by_az) < AZ_COUNT and time.monotonic() < deadline and any(  # a target just (re)started: 1 check
            state in ("initial", "healthy") for az, targets in target_health_by_az(ctx).items() if az not in by_az
            for _, state in targets):
        time.sleep(0.3)
        samples = www.get_many(where, REQUESTS)
        by_az, by_instance = www.spread(samples)
    failed = [s for s in samples if not s.ok]
    # round robin over the healthy targets: with one per AZ (this stage) the AZs take turns; with more
    # (stage 5 on) each AZ still gets its share
    if len(by_az) >= AZ_COUNT and min(by_az.values()) >= REQUESTS // 4 and not failed:
        shown = ", ".join(f"{az}: {n}" for az, n in sorted(by_az.items()))
        how = "alternated between" if www.alternates(samples) else "were spread over"
        return CheckResult(name, True, f"{REQUESTS} GETs through {infra.www(ctx)} {how} "
                                       f"{len(by_instance)} instances ({shown})")
    health = target_health_by_az(ctx)
    idle = [f"{i} in {az} is {state}" for az, targets in sorted(health.items()) for i, state in targets
            if az not in by_az]
    found = ", ".join(f"{az}: {n}" for az, n in sorted(by_az.items())) or "no answer"
    step = (f"; {'; '.join(idle)}: start it and wait for its health checks" if idle else
            "; register a web instance of each AZ in the target group" if len(health) < AZ_COUNT else "")
    errors = f", {len(failed)} failed ({failed[0].error})" if failed else ""
    return CheckResult(name, False, f"expected {REQUESTS} GETs through {infra.www(ctx)} to alternate over "
                                    f"{AZ_COUNT} AZs, found {found}{errors}{step}")


def _survives_az_loss(ctx) -> CheckResult:
    """The AZ-down drill (`az_outage.run`): errors only in a short window, then none, the other AZ carrying all."""
    from . import az_outage

    name = "survives-az-loss"
    if not ctx.is_local:
        return CheckResult(name, True, "not run on a real account (an AZ cannot be switched off from here); "
                                       "the local AWS runs the drill")
    seen = ctx.witnessed(az_outage.WITNESS)
    try:
        drill = seen[0] if seen else az_outage.run(ctx)
    except WorkshopError as exc:
        return CheckResult(name, False, f"the AZ-loss drill could not start: {exc}")
    lost = (" with the database primary" if drill.failed_over else
            " with the single-AZ database" if drill.db_lost else "")
    head = (f"the drill {seen[1]:.0f} s ago " if seen else "") + f"lost {drill.az}{lost}"
    if drill.last_error_at is not None and drill.up_at - drill.last_error_at < az_outage.CLEAN_S:
        if drill.db_lost:
            return CheckResult(name, False, f"{head}: pages lacked their data for {drill.recovery_s:.1f} s, until "
                                            "the AZ came back: no standby to fail over to; "
                                            "modify_db_instance(MultiAZ=True, ApplyImmediately=True)")
        return CheckResult(name, False, f"{head}: requests through www still failed {drill.recovery_s:.1f} s later "
                                        f"({drill.errors_after()} after the window; answered by "
                                        f"{az_outage.fmt(drill.azs_after())}): both AZs need a healthy web instance "
                                        "and the database Multi-AZ")
    if set(drill.azs_after()) != {drill.other}:
        return CheckResult(name, False, f"{head}: after the window answers came from "
                                        f"{az_outage.fmt(drill.azs_after())}, expected only {drill.other}")
    if drill.restored_s is None:
        return CheckResult(name, False, f"{head}: survived, but {drill.az}'s targets were not healthy again within "
                                        f"{az_outage.RESTORE_TIMEOUT_S:g} s of its return: check the target health")
    return CheckResult(name, True, f"{head}: requests failed for {drill.recovery_s:.1f} s, then 0 errors with "
                                   f"{drill.other} answering all {sum(drill.azs_after().values())}; restored in "
                                   f"{drill.restored_s:.1f} s")


# --- the exercise: which AZ would you rather lose? ---------------------------------------------------

#: the choices of exercise 4.1, as the notebook prints them (one is right; each wrong one has its own reply)
REASONS = {
    "a": "it holds more of the web servers, so the web tier loses more capacity",
    "b": "it holds the database primary, so every request waits until RDS fails over",
    "c": "it holds the load balancer, which runs in one AZ and must be recreated",
    "d": "neither: with one web server each and Multi-AZ, both losses cost the same",
}
#: AWS, Amazon RDS User Guide, "Failing over a Multi-AZ DB instance"
#: (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.MultiAZ.Failover.html)
FAILOVER = "typically 60-120 s (RDS User Guide, \"Failing over a Multi-AZ DB instance\")"


def _check_worse_az(value, namespace) -> str | None:
    """Reads the live topology: where the primary, the standby, the web servers and the load balancer are now."""
    ws = namespace.get("ws")
    if ws is None:
        return "run the setup cell first (it defines ws)"
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        return f"expected a pair (AZ name, letter of the reason), found {value!r}"
    az, reason = value[0], str(value[1]).strip().lower()
    live = topology.read(ws.run_id)
    primary = next((d for d in live.databases if d.role != "replica"), None)
    if primary is None:
        return "no database in this run: run the cells above (stage 3 builds it, this stage makes it Multi-AZ)"
    from ..capacity.model import SERVING_ROLES

    web = {z: len([i for i in live.running() if i.role in SERVING_ROLES and i.az == z]) for z in live.azs}
    if az not in web:
        return f"expected one of this run's AZs {sorted(web)}, found {az!r}"
    if az != primary.az:
        db = ("the database's standby, which RDS replaces while the primary serves on" if primary.secondary_az == az
              else "no database instance")
        return (f"expected the AZ whose loss hurts more, found {az}: it holds {web[az]} web server(s) and {db}; "
                f"the primary is elsewhere")
    if reason not in REASONS:
        return f"expected the letter of a reason, one of {', '.join(REASONS)}, found {value[1]!r}"
    if reason == "a":
        return f"the AZ is right, the reason not: web servers per AZ are {web}, the web tier loses its share either way"
    if reason == "c":
        azs = sorted({z for lb in live.load_balancers for z in lb.azs})
        return (f"the AZ is right, the reason not: the load balancer has nodes in {azs} and keeps answering from the "
                "AZ that is left")
    if reason == "d":
        return (f"the AZ is right, the reason not: Multi-AZ keeps the data, not the time: until RDS fails over, "
                f"{FAILOVER}, the app has no database")
    return None


EXERCISES = (Exercise(
    "s04-worse-az", 4, "worse", _check_worse_az,
    "list what each AZ holds now (web servers, load balancer, database primary, standby): what is in one AZ only, "
    "and what does AWS have to do when that AZ goes?",
    more="Multi-AZ means a standby waits in the other AZ, not that two databases serve: the cell above printed "
         "where each is; the failover section further down shows what losing one costs",
),)


_groups = topology.standard_groups(("A", "B"))
ARCHITECTURE = Architecture(
    "Stage 4: users > 1,000",
    nodes=(
        Node("user", "user", "Users"),
        Node("dns", "route53", "Route 53\nwww alias"),
        Node("alb", "alb", "Application\nLoad Balancer"),
        Node("eip", "eip", "Elastic IP\n(day 1; admin only)"),
        Node("web-a", "ec2", "EC2 web", group=topology.az_group("A", topology.WEB_TIER)),
        Node("web-b", "ec2", "EC2 web", group=topology.az_group("B", topology.WEB_TIER)),
        Node("db", "rds", "RDS MySQL\nprimary", group=topology.az_group("A", topology.DATA_TIER)),
        Node("standby", "rds-standby", "RDS MySQL\nstandby", group=topology.az_group("B", topology.DATA_TIER)),
    ),
    groups=_groups,
    edges=(Edge("user", "dns", "DNS"), Edge("dns", "alb", "www"), Edge("alb", "web-a", "HTTP"),
           Edge("alb", "web-b", "HTTP"), Edge("eip", "web-a", "SSH"), Edge("web-a", "db", "MySQL"),
           Edge("web-b", "db", "MySQL"), Edge("db", "standby", "sync")),
)

BILL = (s01_day_one.ADMIN_BOX + bill.box(WEB_TYPE, 2, "web, one per AZ") + bill.alb()
        + bill.db(s03_web_and_database.DB_CLASS, multi_az=True) + bill.zone())

STAGE = register(Stage(
    number=4,
    slug="users_1000",
    title="Users > 1,000: two AZs",
    slides="9",
    users="> 1,000",
    goal="Remove the single points of failure: a load balancer, a web instance in each of two AZs, RDS Multi-AZ.",
    architecture=ARCHITECTURE,
    builds_on=(1, 3),
    checks=(
        Check("serving", _serving, "healthy targets in both AZs (degraded, not failed, with one AZ down)"),
        Check("multi-az", _multi_az, "the database has a standby in the other AZ"),
        Check("dns", _dns, "www is an alias of the load balancer"),
        Check("alternates", _alternates, "GETs through www alternate between instances in two AZs"),
        Check("survives-az-loss", _survives_az_loss,
              "an AZ lost under traffic (with the database primary): errors for a window, then none, the other "
              "AZ serving; then restored"),
    ),
    build=build,
    exercises=EXERCISES,
    bill=BILL,
    band=Band(1_001, slide="9"),
))
