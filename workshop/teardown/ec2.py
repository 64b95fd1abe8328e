"""EC2 kinds: instances, NAT gateways, launch templates, VPC endpoints, Elastic IPs, network
interfaces, key pairs, volumes, security groups, subnets, route tables, internet gateways, VPCs."""

from __future__ import annotations

from collections.abc import Callable

from botocore.exceptions import ClientError

from .. import tags, waits
from .kind import FRONT_DOORS, GUARDS, LEFTOVERS, NETWORK, STANDING, VPCS, Kind, Resource, Scope
from .shapes import calling, gone_when_unlisted, is_gone, name_tag, paginate


def _find(describe: str, key: str, id_key: str, states_ok: Callable[[dict], bool] = lambda x: True,
          nested: str | None = None, page_size: int | None = None):
    def find(scope: Scope):
        # moto 5.2.5 cuts describe_launch_templates at MaxResults (default 15) without a NextToken:
        # ask for AWS's maximum page so a busy account is still seen whole
        extra = {"PaginationConfig": {"PageSize": page_size}} if page_size else {}
        items = paginate(scope.client("ec2"), describe, key, **extra)
        if nested:
            items = (i for r in items for i in r.get(nested, []))
        for item in items:
            if not states_ok(item):
                continue
            name = (name_tag(item.get("Tags")) or item.get("KeyName") or item.get("GroupName")
                    or item.get("LaunchTemplateName") or "")
            r = scope.owned(item.get("Tags"), name, item[id_key], data=item)
            if r:
                yield r
    return find


def _gone(describe: str, key: str, id_param: str, done: tuple[str, ...] = (), id_key: str = "", codes=()):
    return gone_when_unlisted("ec2", describe, id_param, key, as_list=True, done=done, id_key=id_key, codes=codes,
                              state=lambda i: i.get("State") if isinstance(i.get("State"), str) else "")


def _in_vpcs(find_all: Callable[[Scope], list[dict]], id_key: str, vpcs_of: Callable[[dict], set[str]]):
    """A finder for network parts: tagged (or named) for the course, or inside one of its VPCs
    (in a course or run teardown, where what a VPC holds goes with it)."""
    def find(scope: Scope):
        vpcs = set(_course_vpcs(scope))
        for item in find_all(scope):
            name = item.get("GroupName") or name_tag(item.get("Tags"))
            ok, stage, run = scope.wants(item.get("Tags"), name)
            if ok or (scope.stage is None and vpcs_of(item) & vpcs):
                yield Resource("", item[id_key], name or item[id_key], scope.region, stage, run, data=item)
    return find


def _course_vpcs(scope: Scope) -> list[str]:
    return [r.id for r in _find("describe_vpcs", "Vpcs", "VpcId")(scope)]


# --- instances --------------------------------------------------------------------------

def _instance_gone(scope, r):
    try:
        res = scope.client("ec2").describe_instances(InstanceIds=[r.id])["Reservations"]
    except ClientError as exc:
        if is_gone(exc):
            return True
        raise
    states = [i["State"]["Name"] for x in res for i in x["Instances"]]
    return not states or all(s == "terminated" for s in states) or waits.Pending(",".join(states))


# --- Elastic IPs and network interfaces ---------------------------------------------------

def _release_eip(scope, r):
    ec2 = scope.client("ec2")
    if r.data.get("AssociationId"):
        try:
            ec2.disassociate_address(AssociationId=r.data["AssociationId"])
        except ClientError as exc:
            if not is_gone(exc):
                raise
    ec2.release_address(AllocationId=r.id)


def _find_enis(scope: Scope):
    """ENIs tagged for the course, or still in one of the course's VPCs (course or run teardown).

    By this wave the instances, load balancers, databases and functions are gone: an
    interface left in a course VPC is either available (deleted here), being released by
    AWS (requester-managed, e.g. Lambda's: waited for), or held by something that is not
    the course's (reported as a blocker naming it).
    """
    vpcs = set(_course_vpcs(scope)) if scope.stage is None else set()
    for eni in paginate(scope.client("ec2"), "describe_network_interfaces", "NetworkInterfaces"):
        attachment = eni.get("Attachment") or {}
        if attachment.get("InstanceId") and attachment.get("DeviceIndex", 0) == 0:
            continue  # an instance's primary interface: it goes with its instance
        ok, stage, run = scope.wants(eni.get("TagSet"), None)
        if ok or eni.get("VpcId") in vpcs:
            yield Resource("", eni["NetworkInterfaceId"], eni.get("Description") or eni["NetworkInterfaceId"],
                           scope.region, stage, run, eni.get("Status", ""), eni)


def _delete_eni(scope, r):
    ec2 = scope.client("ec2")
    attachment = r.data.get("Attachment") or {}
    if r.data.get("RequesterManaged"):
        return  # AWS (Lambda, ELB, RDS) releases it once its owner is gone; we wait for that
    if attachment.get("AttachmentId") and not tags.is_course(r.data.get("TagSet")):
        holder = attachment.get("InstanceId") or "another resource"
        raise ClientError({"Error": {"Code": "DependencyViolation", "Message": f"{r.id} is attached to {holder}"}},
                          "DeleteNetworkInterface")
    if attachment.get("AttachmentId") and attachment.get("DeviceIndex", 0) != 0:
        ec2.detach_network_interface(AttachmentId=attachment["AttachmentId"], Force=True)
        waits.wait_for(f"ENI {r.id} detached", lambda: _eni_status(scope, r) in ("available", "gone"), 300, 10)
    ec2.delete_network_interface(NetworkInterfaceId=r.id)


def _eni_status(scope, r) -> str:
    try:
        items = scope.client("ec2").describe_network_interfaces(NetworkInterfaceIds=[r.id])["NetworkInterfaces"]
    except ClientError as exc:
        if is_gone(exc):
            return "gone"
        raise
    return items[0]["Status"] if items else "gone"


def _eni_gone(scope, r):
    s = _eni_status(scope, r)
    return s == "gone" or waits.Pending(s)


def _eni_holder(scope, r) -> str:
    attachment = r.data.get("Attachment") or {}
    return f"instance {attachment['InstanceId']}" if attachment.get("InstanceId") else ""


def _interfaces_using(filter_name: str):
    """A `holder`: the network interfaces that use the resource (what keeps AWS from deleting it)."""
    def holder(scope, r) -> str:
        enis = scope.client("ec2").describe_network_interfaces(
            Filters=[{"Name": filter_name, "Values": [r.id]}])["NetworkInterfaces"]
        return ", ".join(f"{e['NetworkInterfaceId']} ({e.get('Description') or e.get('InterfaceType', 'eni')})"
                         for e in enis[:3])
    return holder


# --- security groups and the network ------------------------------------------------------

def _delete_sg(scope, r):
    """Revoke rules that name other groups first (two course SGs can hold each other)."""
    ec2 = scope.client("ec2")
    perms_in = [p for p in r.data.get("IpPermissions", []) if p.get("UserIdGroupPairs")]
    perms_out = [p for p in r.data.get("IpPermissionsEgress", []) if p.get("UserIdGroupPairs")]
    try:
        if perms_in:
            ec2.revoke_security_group_ingress(GroupId=r.id, IpPermissions=perms_in)
        if perms_out:
            ec2.revoke_security_group_egress(GroupId=r.id, IpPermissions=perms_out)
    except ClientError as exc:
        if not is_gone(exc):
            raise
    ec2.delete_security_group(GroupId=r.id)


def _all(describe: str, key: str, keep: Callable[[dict], bool] = lambda x: True):
    return lambda scope: [i for i in paginate(scope.client("ec2"), describe, key) if keep(i)]


def _delete_route_table(scope, r):
    ec2 = scope.client("ec2")
    for a in r.data.get("Associations", []):
        if a.get("RouteTableAssociationId") and not a.get("Main"):
            try:
                ec2.disassociate_route_table(AssociationId=a["RouteTableAssociationId"])
            except ClientError as exc:
                if not is_gone(exc):
                    raise
    ec2.delete_route_table(RouteTableId=r.id)


def _delete_igw(scope, r):
    ec2 = scope.client("ec2")
    for a in r.data.get("Attachments", []):
        try:
            ec2.detach_internet_gateway(InternetGatewayId=r.id, VpcId=a["VpcId"])
        except ClientError as exc:
            if not is_gone(exc, "Gateway.NotAttached"):
                raise
    ec2.delete_internet_gateway(InternetGatewayId=r.id)


def _vpc_of(item: dict) -> set[str]:
    return {item["VpcId"]} if item.get("VpcId") else set()


KINDS = [
    Kind("ec2 nat gateway", "ec2", FRONT_DOORS,
         _find("describe_nat_gateways", "NatGateways", "NatGatewayId",
               lambda n: n.get("State") not in ("deleted", "deleting")),
         calling("ec2", "delete_nat_gateway", "NatGatewayId"),
         _gone("describe_nat_gateways", "NatGateways", "NatGatewayIds", ("deleted",)), typical_s=60),
    Kind("ec2 instance", "ec2", STANDING,
         _find("describe_instances", "Reservations", "InstanceId", lambda i: i["State"]["Name"] != "terminated",
               nested="Instances"),
         calling("ec2", "terminate_instances", "InstanceIds", as_list=True), _instance_gone,
         typical_s=60, timeout_s=1200),
    Kind("ec2 launch template", "ec2", STANDING,
         _find("describe_launch_templates", "LaunchTemplates", "LaunchTemplateId", page_size=200),
         calling("ec2", "delete_launch_template", "LaunchTemplateId"),
         _gone("describe_launch_templates", "LaunchTemplates", "LaunchTemplateIds",
               codes=("InvalidLaunchTemplateId.Malformed",))),
    Kind("ec2 vpc endpoint", "ec2", LEFTOVERS,
         _find("describe_vpc_endpoints", "VpcEndpoints", "VpcEndpointId",
               lambda e: e.get("State", "").lower() not in ("deleted", "deleting")),
         calling("ec2", "delete_vpc_endpoints", "VpcEndpointIds", as_list=True),
         _gone("describe_vpc_endpoints", "VpcEndpoints", "VpcEndpointIds", ("deleted",), id_key="VpcEndpointId"),
         typical_s=60),
    Kind("ec2 elastic ip", "ec2", LEFTOVERS, _find("describe_addresses", "Addresses", "AllocationId"), _release_eip,
         _gone("describe_addresses", "Addresses", "AllocationIds")),
    Kind("ec2 network interface", "ec2", LEFTOVERS, _find_enis, _delete_eni, _eni_gone, typical_s=30,
         timeout_s=2700, holder=_eni_holder),
    Kind("ec2 key pair", "ec2", LEFTOVERS, _find("describe_key_pairs", "KeyPairs", "KeyPairId"),
         lambda s, r: s.client("ec2").delete_key_pair(KeyName=r.data["KeyName"]),  # by name: moto ignores the id
         _gone("describe_key_pairs", "KeyPairs", "KeyPairIds", id_key="KeyPairId")),
    Kind("ec2 volume", "ec2", LEFTOVERS,
         _find("describe_volumes", "Volumes", "VolumeId", lambda v: v.get("State") == "available"),
         calling("ec2", "delete_volume", "VolumeId"), _gone("describe_volumes", "Volumes", "VolumeIds", ("deleted",))),
    Kind("ec2 security group", "ec2", GUARDS,
         _in_vpcs(_all("describe_security_groups", "SecurityGroups", lambda g: g.get("GroupName") != "default"),
                  "GroupId", _vpc_of),
         _delete_sg, _gone("describe_security_groups", "SecurityGroups", "GroupIds"), timeout_s=300,
         holder=_interfaces_using("group-id")),
    Kind("ec2 subnet", "ec2", NETWORK, _in_vpcs(_all("describe_subnets", "Subnets"), "SubnetId", _vpc_of),
         calling("ec2", "delete_subnet", "SubnetId"), _gone("describe_subnets", "Subnets", "SubnetIds"),
         holder=_interfaces_using("subnet-id")),
    Kind("ec2 route table", "ec2", NETWORK,
         _in_vpcs(_all("describe_route_tables", "RouteTables",
                       lambda t: not any(a.get("Main") for a in t.get("Associations", []))),  # main: goes with its VPC
                  "RouteTableId", _vpc_of),
         _delete_route_table, _gone("describe_route_tables", "RouteTables", "RouteTableIds")),
    Kind("ec2 internet gateway", "ec2", NETWORK,
         _in_vpcs(_all("describe_internet_gateways", "InternetGateways"), "InternetGatewayId",
                  lambda g: {a["VpcId"] for a in g.get("Attachments", [])}),
         _delete_igw, _gone("describe_internet_gateways", "InternetGateways", "InternetGatewayIds")),
    Kind("ec2 vpc", "ec2", VPCS, _find("describe_vpcs", "Vpcs", "VpcId"), calling("ec2", "delete_vpc", "VpcId"),
         _gone("describe_vpcs", "Vpcs", "VpcIds"), holder=_interfaces_using("vpc-id")),
]
