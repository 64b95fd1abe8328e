"""Find-or-create helpers the stage modules share: network, security groups, instances, DNS.

Each `ensure_*` looks the resource up by its run-scoped name (tag `Name` = `sbs-<run>-...`
and the run tag) before creating it, so building a stage twice creates nothing twice.
Each `find_*` only reads. Parameters are validated by `validate_*` before anything is
created. The notebooks make the same boto3 calls in their cells, visibly; these helpers
are what `build(ctx)` (a later stage's set-up) runs.
"""

from __future__ import annotations

import ipaddress
import re

from .. import aws, config, tags, waits
from ..errors import BadInput

VPC_CIDR = "10.0.0.0/16"
#: subnet CIDRs by (tier, AZ index): public subnets hold web servers and the load balancer,
#: private ones the databases (no route to the internet)
SUBNET_CIDRS = {("public", 0): "10.0.0.0/24", ("public", 1): "10.0.1.0/24",
                ("private", 0): "10.0.10.0/24", ("private", 1): "10.0.11.0/24"}
#: the Amazon Linux 2023 AMI, from AWS's public SSM parameter (never an image listing)
AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
ROLE_KEY = "workshop:role"

def client(ctx, service: str):
    """A client for the stage's region, from the one factory (which keeps it: making one costs 50-500 ms)."""
    return aws.client(service, region=ctx.region, target=ctx.target)


def tag_spec(ctx, resource_type: str, name: str, role: str | None = None) -> list[dict]:
    """A TagSpecifications list: the course's three tags, the Name, and the role if any."""
    items = ctx.tag_list() + [{"Key": "Name", "Value": name}]
    if role:
        items.append({"Key": ROLE_KEY, "Value": role})
    return [{"ResourceType": resource_type, "Tags": items}]


def name_filters(ctx, name: str) -> list[dict]:
    return [{"Name": "tag:Name", "Values": [name]}, {"Name": f"tag:{tags.RUN_KEY}", "Values": [ctx.run_id]},
            {"Name": f"tag:{tags.COURSE_KEY}", "Values": [config.COURSE]}]


# --- validation (before anything is created) -------------------------------------------

def validate_cidr(cidr: str, what: str = "ssh_cidr") -> str:
    """A CIDR such as '198.51.100.7/32'; never the whole internet for SSH."""
    try:
        net = ipaddress.ip_network(str(cidr).strip(), strict=True)
    except ValueError as exc:
        raise BadInput(f"{what}={cidr!r} is not a CIDR block ({exc}); give e.g. '198.51.100.7/32' "
                       "(your address, /32). Nothing was created.") from None
    if net.version != 4:
        raise BadInput(f"{what}={cidr!r}: give an IPv4 CIDR such as '198.51.100.7/32'. Nothing was created.")
    if net.prefixlen == 0:
        raise BadInput(f"{what}={cidr!r} opens SSH to the whole internet; give your own address as /32. "
                       "Nothing was created.")
    return str(net)


def validate_instance_type(ctx, instance_type: str, what: str = "instance_type") -> dict:
    """The EC2 instance type's description (vCPUs, memory), or BadInput for an unknown type."""
    if not re.fullmatch(r"[a-z][a-z0-9-]*\.[a-z0-9]+", str(instance_type or "")):
        raise BadInput(f"{what}={instance_type!r} is not an EC2 instance type such as 't2.micro'. Nothing was created.")
    from botocore.exceptions import ClientError

    try:
        found = client(ctx, "ec2").describe_instance_types(InstanceTypes=[instance_type])["InstanceTypes"]
    except ClientError as exc:
        if "InvalidInstanceType" in str(exc):
            found = []
        else:
            raise
    if not found:
        raise BadInput(f"{what}={instance_type!r} is not an EC2 instance type in {ctx.region} "
                       "(e.g. t2.micro, m4.2xlarge, c4.8xlarge). Nothing was created.")
    return found[0]


def validate_az_count(ctx, count) -> list[str]:
    """The first `count` AZs of the region; the course spreads over exactly 2."""
    if not isinstance(count, int) or isinstance(count, bool) or count != 2:
        raise BadInput(f"az_count={count!r}: this stage spreads over 2 Availability Zones (the talk's slide 9); "
                       "use az_count=2. Nothing was created.")
    zones = availability_zones(ctx)
    if len(zones) < count:
        raise BadInput(f"{ctx.region} has {len(zones)} available AZ(s); this stage needs {count}. Nothing was created.")
    return zones[:count]


def availability_zones(ctx) -> list[str]:
    """The region's available AZs, sorted: the course builds in the first two."""
    answer = client(ctx, "ec2").describe_availability_zones(
        Filters=[{"Name": "state", "Values": ["available"]}, {"Name": "zone-type", "Values": ["availability-zone"]}])
    return sorted(z["ZoneName"] for z in answer["AvailabilityZones"])


# --- network ------------------------------------------------------------------------------

def find_vpc(ctx) -> str | None:
    vpcs = client(ctx, "ec2").describe_vpcs(Filters=name_filters(ctx, ctx.name("vpc")))["Vpcs"]
    return vpcs[0]["VpcId"] if vpcs else None


def ensure_vpc(ctx) -> str:
    """The run's VPC with an internet gateway and a public route table (0.0.0.0/0 -> IGW)."""
    ec2 = client(ctx, "ec2")
    vpc_id = find_vpc(ctx)
    if vpc_id is None:
        vpc_id = ec2.create_vpc(CidrBlock=VPC_CIDR,
                                TagSpecifications=tag_spec(ctx, "vpc", ctx.name("vpc")))["Vpc"]["VpcId"]
        ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    igws = ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"]
    if igws:
        igw_id = igws[0]["InternetGatewayId"]
    else:
        igw = ec2.create_internet_gateway(TagSpecifications=tag_spec(ctx, "internet-gateway", ctx.name("igw")))
        igw_id = igw["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)
    if find_route_table(ctx, vpc_id) is None:
        rt = ec2.create_route_table(VpcId=vpc_id, TagSpecifications=tag_spec(ctx, "route-table", ctx.name("public-rt")))
        ec2.create_route(RouteTableId=rt["RouteTable"]["RouteTableId"], DestinationCidrBlock="0.0.0.0/0",
                         GatewayId=igw_id)
    return vpc_id


def find_route_table(ctx, vpc_id: str) -> str | None:
    rts = client(ctx, "ec2").describe_route_tables(
        Filters=name_filters(ctx, ctx.name("public-rt")) + [{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
    return rts[0]["RouteTableId"] if rts else None


def subnet_name(ctx, tier: str, index: int) -> str:
    return ctx.name(f"{tier}-{'ab'[index]}")


def find_subnet(ctx, tier: str, index: int) -> dict | None:
    subnets = client(ctx, "ec2").describe_subnets(Filters=name_filters(ctx, subnet_name(ctx, tier, index)))["Subnets"]
    return subnets[0] if subnets else None


def ensure_subnet(ctx, vpc_id: str, tier: str, index: int, az: str) -> str:
    """The public or private subnet number `index` (A=0, B=1) of the run, in `az`."""
    ec2 = client(ctx, "ec2")
    found = find_subnet(ctx, tier, index)
    if found:
        return found["SubnetId"]
    subnet_id = ec2.create_subnet(
        VpcId=vpc_id, CidrBlock=SUBNET_CIDRS[(tier, index)], AvailabilityZone=az,
        TagSpecifications=tag_spec(ctx, "subnet", subnet_name(ctx, tier, index)))["Subnet"]["SubnetId"]
    if tier == "public":
        ec2.modify_subnet_attribute(SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": True})
        ec2.associate_route_table(RouteTableId=find_route_table(ctx, vpc_id), SubnetId=subnet_id)
    return subnet_id


def find_security_group(ctx, suffix: str) -> str | None:
    groups = client(ctx, "ec2").describe_security_groups(Filters=name_filters(ctx, ctx.name(suffix)))["SecurityGroups"]
    return groups[0]["GroupId"] if groups else None


def ensure_security_group(ctx, vpc_id: str, suffix: str, description: str, permissions: list[dict]) -> str:
    """A security group with exactly these ingress permissions (missing ones added)."""
    ec2 = client(ctx, "ec2")
    group_id = find_security_group(ctx, suffix)
    if group_id is None:
        group_id = ec2.create_security_group(
            GroupName=ctx.name(suffix), Description=description, VpcId=vpc_id,
            TagSpecifications=tag_spec(ctx, "security-group", ctx.name(suffix)))["GroupId"]
    have = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]["IpPermissions"]
    missing = [p for p in permissions if not _has_permission(have, p)]
    if missing:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=missing)
    return group_id


def _has_permission(have: list[dict], want: dict) -> bool:
    for p in have:
        key = ("IpProtocol", "FromPort", "ToPort")
        if tuple(p.get(k) for k in key) != tuple(want.get(k) for k in key):
            continue
        cidrs = {r["CidrIp"] for r in p.get("IpRanges", [])}
        groups = {g["GroupId"] for g in p.get("UserIdGroupPairs", [])}
        if {r["CidrIp"] for r in want.get("IpRanges", [])} <= cidrs and \
                {g["GroupId"] for g in want.get("UserIdGroupPairs", [])} <= groups:
            return True
    return False


def open_ports(ctx, group_id: str) -> list[tuple[int, str]]:
    """(port, source) pairs a security group admits: a CIDR or another group's id."""
    perms = client(ctx, "ec2").describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]["IpPermissions"]
    out = []
    for p in perms:
        for port in range(p.get("FromPort", 0), p.get("ToPort", 0) + 1) if p.get("FromPort") is not None else [-1]:
            if p.get("ToPort", 0) - p.get("FromPort", 0) > 1024:
                port = -1
            out += [(port, r["CidrIp"]) for r in p.get("IpRanges", [])]
            out += [(port, g["GroupId"]) for g in p.get("UserIdGroupPairs", [])]
    return out


# --- instances -----------------------------------------------------------------------------

def latest_ami(ctx) -> str:
    """Amazon Linux 2023's current AMI id, from AWS's public SSM parameter."""
    return client(ctx, "ssm").get_parameter(Name=AMI_PARAMETER)["Parameter"]["Value"]


def find_instance(ctx, suffix: str) -> dict | None:
    """The run's live (not terminated) instance named `sbs-<run>-<suffix>`."""
    filters = name_filters(ctx, ctx.name(suffix)) + [
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}]
    for r in client(ctx, "ec2").describe_instances(Filters=filters)["Reservations"]:
        for i in r["Instances"]:
            return i
    return None


def instance_tags(instance: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}


def wait_running(ctx, instance_id: str, label: str) -> None:
    waits.waiter(client(ctx, "ec2"), "instance_running", f"instance {label} running", typical_s=30,
                 InstanceIds=[instance_id])


def wait_stopped(ctx, instance_id: str, label: str) -> None:
    waits.waiter(client(ctx, "ec2"), "instance_stopped", f"instance {label} stopped", typical_s=45,
                 InstanceIds=[instance_id])


def ensure_running(ctx, instance: dict) -> None:
    """Start the instance if it is stopped (a stage's build leaves its instances serving)."""
    state = instance["State"]["Name"]
    ec2 = client(ctx, "ec2")
    if state == "stopping":
        wait_stopped(ctx, instance["InstanceId"], instance["InstanceId"])
        state = "stopped"
    if state == "stopped":
        ec2.start_instances(InstanceIds=[instance["InstanceId"]])
    if state != "running":
        wait_running(ctx, instance["InstanceId"], instance["InstanceId"])


def resize(ctx, instance_id: str, new_type: str, user_data: str | None = None) -> None:
    """Stop, change the type (and, if given, the user data), start: the only way AWS changes either
    (EC2 User Guide, "Change the instance type" and "Modify instance user data": the instance must be stopped).

    User data carrying the web app's config from an earlier stage than the instance's own is not
    applied: a later stage's `build_previous()` re-runs stage 3's build, which must not undo stage 5's."""
    ec2 = client(ctx, "ec2")
    current = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    have = current_user_data(ctx, instance_id) if user_data is not None else None
    same_data = user_data is None or have == user_data or _app_stage(user_data) < _app_stage(have)
    if current["InstanceType"] == new_type and same_data:
        ensure_running(ctx, current)
        return
    if current["State"]["Name"] != "stopped":
        ec2.stop_instances(InstanceIds=[instance_id])
        wait_stopped(ctx, instance_id, instance_id)
    if current["InstanceType"] != new_type:
        ec2.modify_instance_attribute(InstanceId=instance_id, InstanceType={"Value": new_type})
    if not same_data:  # boto3 base64-encodes the value
        ec2.modify_instance_attribute(InstanceId=instance_id, UserData={"Value": user_data.encode()})
    ec2.start_instances(InstanceIds=[instance_id])
    wait_running(ctx, instance_id, instance_id)


def _app_stage(user_data: str | None) -> int:
    """The stage whose web-app config `user_data` carries (0: none, or not the app's)."""
    from ..errors import BadInput
    from ..webapp import userdata

    try:
        config = userdata.parse(user_data)
    except BadInput:
        return 0
    return int((config or {}).get("stage") or 0)


def current_user_data(ctx, instance_id: str) -> str | None:
    """An instance's user data as text (EC2 answers it base64-encoded), or None."""
    import base64

    value = client(ctx, "ec2").describe_instance_attribute(
        InstanceId=instance_id, Attribute="userData").get("UserData", {}).get("Value")
    return base64.b64decode(value).decode("utf-8", "replace") if value else None


# --- Elastic IP and DNS --------------------------------------------------------------------

def find_address(ctx) -> dict | None:
    found = client(ctx, "ec2").describe_addresses(Filters=name_filters(ctx, ctx.name("eip")))["Addresses"]
    return found[0] if found else None


def domain(ctx) -> str:
    """The run's hosted zone: a name under a domain the course never needs to own (the kit
    resolves it from the zone's records; on a real account nothing delegates to it)."""
    return f"{ctx.run_id}.scale-baby-scale.net"


def find_zone(ctx) -> str | None:
    """The run's hosted zone id (matched by name and the course tags)."""
    r53 = client(ctx, "route53")
    wanted = domain(ctx) + "."
    for zone in r53.list_hosted_zones_by_name(DNSName=wanted).get("HostedZones", []):
        if zone["Name"] != wanted:
            continue
        zone_id = zone["Id"].split("/")[-1]
        t = r53.list_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_id)["ResourceTagSet"].get("Tags", [])
        if tags.is_course(t):
            return zone_id
    return None


def ensure_zone(ctx) -> str:
    r53 = client(ctx, "route53")
    zone_id = find_zone(ctx)
    if zone_id is None:
        zone = r53.create_hosted_zone(Name=domain(ctx), CallerReference=f"{ctx.name('zone')}-{ctx.run_id}",
                                      HostedZoneConfig={"Comment": "Scale, baby, scale! workshop"})
        zone_id = zone["HostedZone"]["Id"].split("/")[-1]
        r53.change_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_id, AddTags=ctx.tag_list())
    return zone_id


def www(ctx) -> str:
    return f"www.{domain(ctx)}"


def record(ctx, zone_id: str, name: str, rtype: str = "A") -> dict | None:
    """The record set `name`/`rtype` in the zone, or None."""
    fqdn = name.rstrip(".") + "."
    answer = client(ctx, "route53").list_resource_record_sets(
        HostedZoneId=zone_id, StartRecordName=fqdn, StartRecordType=rtype, MaxItems="1")
    for rr in answer["ResourceRecordSets"]:
        if rr["Name"] == fqdn and rr["Type"] == rtype:
            return rr
    return None


def ensure_previous(ctx, missing: bool) -> None:
    """Build the stages this one stands on when something of theirs is missing (idempotent),
    so a later stage that lists only this one in `builds_on` still gets everything."""
    if not missing:
        return
    from . import get

    for number in get(ctx.stage.number).builds_on:
        earlier = get(number)
        if earlier.build is not None:
            earlier.build(ctx.for_stage(number))
