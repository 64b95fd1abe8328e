"""Stage 1, Day 1 (slides 3, 5): one EC2 instance runs the whole stack behind an Elastic IP.

A VPC with one public subnet, a security group (HTTP/HTTPS from anywhere, SSH only from
the learner's CIDR), one instance from the current Amazon Linux AMI with user data that
installs the full stack, an Elastic IP, and a Route 53 zone whose `www` A record points
at the Elastic IP. The checks resolve `www` with the kit's resolver and follow it to the
instance: stop the instance and the site is down (one box, no failover).
"""

from __future__ import annotations

import html
import re
import time

from .. import bill, topology
from ..architecture import Architecture, Edge, Group, Node
from ..exercises import Exercise
from ..webapp import userdata
from . import Band, Check, CheckResult, Stage, dns, downtime, infra, register, site

#: a documentation address (RFC 5737): replace it with your own address/32
DEFAULT_SSH_CIDR = "198.51.100.7/32"
INSTANCE_TYPE = "t2.micro"  # the talk's day-1 box (slide 4)
WEB_PORTS = (80, 443)
SG_DESCRIPTION = "web tier: HTTP/HTTPS from anywhere, SSH from the admin CIDR"

#: the day-1 box's own database: MariaDB on the instance, its app user reachable only from the box
DAY_ONE_DB = {"writer": "localhost", "port": 3306, "user": "sbs", "password": "day-one-local", "database": "sbs"}
MARIADB_SETUP = (
    "dnf install -y mariadb105-server",
    "systemctl enable --now mariadb",
    "mysql -e \"CREATE DATABASE IF NOT EXISTS sbs; CREATE USER IF NOT EXISTS 'sbs'@'localhost' "
    "IDENTIFIED BY 'day-one-local'; GRANT ALL ON sbs.* TO 'sbs'@'localhost'\"",
)
#: what the day-1 box runs: the web app and its database on one instance (workshop/webapp)
USER_DATA = userdata.build({"stage": 1, "sessions": "memory", "db": DAY_ONE_DB, "cache": None},
                           title="day 1: the whole stack on one box", setup=MARIADB_SETUP)


def web_ingress(ssh_cidr: str) -> list[dict]:
    """HTTP and HTTPS from anywhere, SSH only from `ssh_cidr`."""
    anywhere = [{"CidrIp": "0.0.0.0/0", "Description": "the public web"}]
    return [{"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "IpRanges": anywhere} for p in WEB_PORTS] + [
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "IpRanges": [{"CidrIp": ssh_cidr, "Description": "admin SSH"}]}]


def build(ctx, ssh_cidr: str = DEFAULT_SSH_CIDR, instance_type: str = INSTANCE_TYPE) -> dict:
    """Build day 1 idempotently; return the ids (vpc, subnet, sg, instance, eip, zone)."""
    ssh_cidr = infra.validate_cidr(ssh_cidr)
    infra.validate_instance_type(ctx, instance_type)
    az = infra.availability_zones(ctx)[0]
    ec2 = infra.client(ctx, "ec2")
    vpc_id = infra.ensure_vpc(ctx)
    subnet_id = infra.ensure_subnet(ctx, vpc_id, "public", 0, az)
    sg_id = infra.ensure_security_group(ctx, vpc_id, "web", SG_DESCRIPTION, web_ingress(ssh_cidr))
    instance = infra.find_instance(ctx, "web-a")
    if instance is None:
        instance = ec2.run_instances(
            ImageId=infra.latest_ami(ctx), InstanceType=instance_type, MinCount=1, MaxCount=1,
            SubnetId=subnet_id, SecurityGroupIds=[sg_id], UserData=USER_DATA,
            TagSpecifications=infra.tag_spec(ctx, "instance", ctx.name("web-a"), role="full-stack")
            + infra.tag_spec(ctx, "volume", ctx.name("web-a")),
        )["Instances"][0]
    infra.ensure_running(ctx, instance)
    instance_id = instance["InstanceId"]
    address = infra.find_address(ctx)
    if address is None:
        address = ec2.allocate_address(Domain="vpc",
                                       TagSpecifications=infra.tag_spec(ctx, "elastic-ip", ctx.name("eip")))
    if address.get("InstanceId") != instance_id:
        ec2.associate_address(AllocationId=address["AllocationId"], InstanceId=instance_id)
    zone_id = infra.ensure_zone(ctx)
    if infra.record(ctx, zone_id, infra.www(ctx)) is None:  # later stages may point www elsewhere: keep theirs
        infra.client(ctx, "route53").change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [{
            "Action": "UPSERT", "ResourceRecordSet": {"Name": infra.www(ctx), "Type": "A", "TTL": 60,
                                                      "ResourceRecords": [{"Value": address["PublicIp"]}]}}]})
    return {"vpc": vpc_id, "subnet": subnet_id, "sg": sg_id, "instance": instance_id,
            "eip": address["PublicIp"], "zone": zone_id}


# --- checks ---------------------------------------------------------------------------------

def _dns(ctx) -> CheckResult:
    address = infra.find_address(ctx)
    if address is None:
        return CheckResult("dns", False, f"no Elastic IP named {ctx.name('eip')}: run the Elastic IP cell")
    answer = dns.resolve(ctx, infra.www(ctx))
    if answer is None:
        return CheckResult("dns", False, f"{infra.www(ctx)} has no record in the zone {infra.domain(ctx)}: "
                                         "run the Route 53 cell")
    if answer.addresses != [address["PublicIp"]]:
        return CheckResult("dns", False, f"expected {infra.www(ctx)} -> {address['PublicIp']} (the Elastic IP), "
                                         f"found {answer}; UPSERT the A record")
    return CheckResult("dns", True, f"{answer} (the Elastic IP)")


def site_status(ctx) -> CheckResult:
    """Follow www -> Elastic IP -> instance: up only if that instance runs and admits HTTP."""
    answer = dns.resolve(ctx, infra.www(ctx))
    if answer is not None and answer.alias:
        return CheckResult("site", False, f"{infra.www(ctx)} no longer leads to the day-1 box: it is an alias of "
                                          f"{answer.alias} (a later stage moved it); UPSERT the A record to restore day 1")
    if answer is None or not answer.addresses:
        return CheckResult("site", False, f"the site is down: {infra.www(ctx)} resolves to no address")
    ip = answer.addresses[0]
    found = infra.client(ctx, "ec2").describe_addresses(Filters=[{"Name": "public-ip", "Values": [ip]}])["Addresses"]
    if not found or not found[0].get("InstanceId"):
        return CheckResult("site", False,
                           f"the site is down: {ip} is attached to no instance; associate the Elastic IP")
    instance_id = found[0]["InstanceId"]
    instance = infra.client(ctx, "ec2").describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    state = instance["State"]["Name"]
    if state != "running":
        return CheckResult("site", False, f"the site is down: {infra.www(ctx)} -> {ip} -> {instance_id} is {state}; "
                                          "one box, no failover (start it: ec2.start_instances)")
    ports = {port for g in instance["SecurityGroups"] for port, src in infra.open_ports(ctx, g["GroupId"])
             if src == "0.0.0.0/0"}
    if 80 not in ports:
        return CheckResult("site", False, f"the site is unreachable: {instance_id} is running but its security group "
                                          "does not admit HTTP (port 80) from 0.0.0.0/0")
    return CheckResult("site", True, f"up: {infra.www(ctx)} -> {ip} -> {instance_id} "
                                     f"({instance['InstanceType']}, running, HTTP open)")


def _ssh(ctx) -> CheckResult:
    group_id = infra.find_security_group(ctx, "web")
    if group_id is None:
        return CheckResult("ssh", False, f"no security group {ctx.name('web')}: run the security group cell")
    sources = [src for port, src in infra.open_ports(ctx, group_id) if port in (22, -1)]
    if "0.0.0.0/0" in sources:
        return CheckResult("ssh", False, "SSH (22) is open to 0.0.0.0/0: revoke it and admit only your address")
    if not sources:
        return CheckResult("ssh", False, "SSH (22) is admitted from nowhere: add your address/32 to manage the box")
    return CheckResult("ssh", True, f"SSH only from {', '.join(sources)}")


# --- checks with requests: it answers, and when it stops nothing does ------------------------

#: seconds the no-failover check keeps the box stopped while probing it
HOLD_S = 1.0
#: on the local AWS a stopped box refuses connections within a reconcile round: allow this much
LOCAL_REFUSED_WITHIN_S = 1.0
_DB_DOWN = re.compile(r'class="db-down">(.*?)</p>', re.S)
# Where a page's messages may come from once the box has its data: its writer (stages 1-3), a read
# replica (5+) or ElastiCache (6+). The app says `none` when it could not reach any of them.
WITH_DATA = ("writer", "reader", "cache")


def _database_of(ctx, instance_id: str) -> str:
    """Which database the box's web app uses, from its user data: 'its own MySQL' or the endpoint."""
    from ..errors import BadInput

    try:
        config = userdata.parse(infra.current_user_data(ctx, instance_id)) or {}
    except BadInput:
        config = {}
    writer = (config.get("db") or {}).get("writer")
    return "its own MySQL" if writer in ("localhost", "127.0.0.1") else (writer or "an unknown database")


def answers(ctx, name: str = "answers") -> CheckResult:
    """GET the box's address: a 200 page from this instance, naming it and its AZ, with the database's data."""
    instance = infra.find_instance(ctx, "web-a")
    if instance is None:
        return CheckResult(name, False, f"no instance {ctx.name('web-a')}: run stage 1")
    instance_id, state = instance["InstanceId"], instance["State"]["Name"]
    if state != "running":
        return CheckResult(name, False, f"nothing answers: {instance_id} is {state} and it is the only box "
                                        f"(no failover); start it: ec2.start_instances(InstanceIds=['{instance_id}'])")
    where = site.box_where(ctx, instance)
    page = site.get(where, within_s=site.startup_s(ctx))
    if not page.ok:
        return CheckResult(name, False, f"GET {where.url}/ failed ({page.why()}): {instance_id} is running but its web "
                                        "server does not answer; on AWS give it a few minutes after a start, then "
                                        "run the check again")
    served_by, az = page.header("X-Instance-Id"), page.header("X-Availability-Zone")
    if served_by != instance_id or instance_id not in page.body:
        return CheckResult(name, False, f"expected the page from {instance_id}, found it from {served_by}: the "
                                        "address leads to another box; associate the Elastic IP with this one")
    source = page.header("X-Data-Source")
    if source not in WITH_DATA:  # a later stage's box reads from replicas or the cache: data all the same
        down = _DB_DOWN.search(page.body)
        why = html.unescape(down.group(1)) if down else f"X-Data-Source: {source}"
        return CheckResult(name, False, f"{instance_id} answered without its data: {why}")
    read_from = _database_of(ctx, instance_id) if source == "writer" else f"the {source}"
    return CheckResult(name, True, f"GET / -> {page.status} from {instance_id} in {az}, messages read from "
                                   f"{read_from} (X-Data-Source: {source})")


def _no_failover(ctx) -> CheckResult:
    """Stop the box under a probe: every request fails; start it: it answers again (left running)."""
    name = "no-failover"
    first = answers(ctx, name)
    if not first.ok:
        return CheckResult(name, False, f"cannot show it: {first.message}")
    instance = infra.find_instance(ctx, "web-a")
    instance_id, ec2 = instance["InstanceId"], infra.client(ctx, "ec2")
    with downtime.watch(ctx, instance, lead_s=0.5, tail_s=0.3) as w:
        w.mark("stop_instances")
        ec2.stop_instances(InstanceIds=[instance_id])
        infra.wait_stopped(ctx, instance_id, ctx.name("web-a"))
        w.stopped()
        time.sleep(HOLD_S)
        w.mark("start_instances")
        ec2.start_instances(InstanceIds=[instance_id])
        infra.wait_running(ctx, instance_id, ctx.name("web-a"))
        w.mark("running")
    stopped = w.between("stopped", "start_instances")
    answered = [s for s in stopped if s.ok]
    if not stopped or answered:
        others = sorted({s.instance or "?" for s in answered})
        return CheckResult(name, False, f"while {instance_id} was stopped {len(answered)} of {len(stopped)} requests "
                                        f"were answered (by {', '.join(others) or 'nobody'}): expected none, it is "
                                        f"the only box [{w.result.timeline()}]")
    refused_after = w.down_at - w.at("stop_instances")
    if ctx.is_local and refused_after > LOCAL_REFUSED_WITHIN_S:
        return CheckResult(name, False, f"the stopped box kept answering for {refused_after:.2f} s after "
                                        f"stop_instances (expected refusals within {LOCAL_REFUSED_WITHIN_S:g} s): "
                                        "is the local AWS's reconcile loop running? (workshop status)")
    if w.back_at is None:
        return CheckResult(name, False, f"{instance_id} was started again but does not answer yet ({w.summary()}); "
                                        "run the check again in a minute")
    kinds = ", ".join(sorted(k or "?" for k in w.errors()))
    return CheckResult(name, True, f"one box, no failover: stopped, {len(stopped)} of {len(stopped)} requests failed "
                                   f"({kinds}), the first {refused_after:.2f} s after stop_instances; started, answering "
                                   f"again {w.back_at - w.at('start_instances'):.2f} s after start_instances "
                                   f"[{w.result.timeline()}]")


# --- the exercise -----------------------------------------------------------------------

def _check_ingress(value, namespace) -> str | None:
    if not isinstance(value, list) or not all(isinstance(p, dict) for p in value):
        return f"expected a list of IpPermissions dicts (HTTP and HTTPS from 0.0.0.0/0), found {value!r}"
    open_to_all = set()
    for p in value:
        cidrs = {r.get("CidrIp") for r in p.get("IpRanges", [])}
        if p.get("IpProtocol") != "tcp" or "0.0.0.0/0" not in cidrs:
            continue
        open_to_all.update(range(int(p.get("FromPort", -1)), int(p.get("ToPort", -2)) + 1))
    if 22 in open_to_all:
        return "expected SSH (22) closed to the world, found it open to 0.0.0.0/0 (SSH comes from ssh_cidr only)"
    missing = [p for p in WEB_PORTS if p not in open_to_all]
    if missing:
        return f"expected tcp 80 and 443 open to 0.0.0.0/0, found {sorted(open_to_all & {80, 443}) or 'neither'} open"
    extra = sorted(open_to_all - set(WEB_PORTS))
    if extra:
        return f"expected only 80 and 443 open to the world, found also {extra[:5]}"
    return None


EXERCISES = (Exercise(
    "s01-web-ingress", 1, "web_ingress", _check_ingress,
    "two IpPermissions: {'IpProtocol': 'tcp', 'FromPort': 80, 'ToPort': 80, "
    "'IpRanges': [{'CidrIp': '0.0.0.0/0'}]} and the same for 443",
),)


ARCHITECTURE = Architecture(
    "Stage 1: day 1, one box",
    nodes=(
        Node("user", "user", "Users"),
        Node("dns", "route53", "Route 53\nwww A record"),
        Node("eip", "eip", "Elastic IP"),
        Node("web", "ec2", "EC2 t2.micro\nweb + app + database", group=topology.az_group("A", topology.WEB_TIER)),
    ),
    groups=(Group(topology.az_group("A"), "Availability Zone A"),
            Group(topology.az_group("A", topology.WEB_TIER), topology.WEB_TIER, parent=topology.az_group("A"))),
    edges=(Edge("user", "dns", "DNS"), Edge("dns", "eip", "www"), Edge("eip", "web", "HTTP")),
)

#: what stage 1 leaves running on a real account (priced by `workshop cost`)
BILL = bill.box(INSTANCE_TYPE, 1, "web + app + database") + bill.zone()
#: the same box as later stages keep it, for administration (their bills include it)
ADMIN_BOX = bill.box(INSTANCE_TYPE, 1, "day-1 box, kept for admin")

STAGE = register(Stage(
    number=1,
    slug="day_one",
    title="Day 1: one box",
    slides="2-3, 5",
    users="a few hundred to a few thousand depending on application complexity and traffic",
    goal="Run the whole stack on one EC2 instance behind an Elastic IP and a Route 53 name, "
         "and see its single point of failure.",
    architecture=ARCHITECTURE,
    builds_on=(),
    checks=(
        Check("dns", _dns, "www resolves (kit resolver over the zone's records) to the Elastic IP"),
        Check("site", site_status, "www -> Elastic IP -> a running instance that admits HTTP"),
        Check("ssh", _ssh, "SSH is admitted only from the learner's CIDR"),
        Check("answers", answers, "GET the box's address: a 200 page from the instance, naming it and its AZ, "
                                  "read from its own MySQL"),
        Check("no-failover", _no_failover, "stopped, the box answers no request (refused within 1 s locally); "
                                           "started, it answers again (slide 5)"),
    ),
    build=build,
    exercises=EXERCISES,
    bill=BILL,
    band=Band(200, 9_999, slide="3"),
))
