"""Teardown: delete everything the course created, in dependency order, then prove it is gone.

What belongs to the course: anything tagged `workshop:course=scale-baby-scale` (narrowed to
one run or one stage when asked), plus, where tags do not reach or a create was
interrupted before tagging, anything named with the course prefix `sbs-` (`sbs-<run>-`).
Untagged, prefix-named resources are included in a course or run teardown, never in a
stage teardown (their stage is unknown).

Deletion runs in waves (`WAVES`): every deletion of a wave is started, then the wave waits
for all of them together (`waits.together`), so the teardown takes as long as each wave's
slowest resource, not the sum. A wave only starts once the one before is gone, which is
the dependency order AWS needs: ASGs before launch templates, instances and load
balancers before security groups, RDS read replicas before primaries, CloudFront disabled
(and deployed) before it is deleted, Lambda functions before their log groups and roles,
subnets, route tables and internet gateways before VPCs.

Everything is idempotent: a teardown interrupted at any point is finished by running it
again (what is already deleting is waited for, not deleted twice). A resource AWS refuses
to delete because something else holds it becomes a `Blocker` naming the holder and what
to do. Finally every kind is scanned again; `Report.remaining` must be empty.

On the aws target, RDS instances are deleted without a final snapshot: the course's
databases hold only demo data, and the `--yes` that starts the teardown is the consent
(the listing printed without `--yes` says so).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from botocore.exceptions import ClientError

from . import aws, config, tags, waits
from .errors import Unsupported, WorkshopError

GLOBAL_REGION = "us-east-1"  # IAM, Route 53, CloudFront and S3's bucket list answer here


# ---------------------------------------------------------------------------------------
# What a resource is and which ones we want
# ---------------------------------------------------------------------------------------

@dataclass
class Resource:
    kind: str  # "ec2 instance", "rds instance (replica)", ...
    id: str
    name: str
    region: str
    stage: str = ""
    run: str = ""
    state: str = ""
    data: dict = field(default_factory=dict, repr=False)

    def label(self) -> str:
        return f"{self.kind} {self.name}" + (f" ({self.id})" if self.id and self.id != self.name else "")


@dataclass
class Blocker:
    resource: Resource
    message: str  # which resource holds it and what to do


@dataclass
class Scope:
    """Which resources a teardown touches, and where."""

    region: str
    run: str | None = None
    stage: int | None = None

    _clients: dict = field(default_factory=dict, repr=False, compare=False)

    def client(self, service: str):
        """One client per service and region for the whole teardown (creating one costs ~0.3 s)."""
        if service not in self._clients:
            self._clients[service] = _client(service, self.region)
        return self._clients[service]

    def prefix(self) -> str:
        return f"{tags.PREFIX}-{self.run}-" if self.run else f"{tags.PREFIX}-"

    def wants(self, tag_items: Any, name: str | None) -> tuple[bool, str, str]:
        """(in scope?, stage, run) from a resource's tags (dict or Key/Value list) and name."""
        t = _tag_dict(tag_items)
        if t.get(tags.COURSE_KEY) == config.COURSE:
            stage, run = t.get(tags.STAGE_KEY, ""), t.get(tags.RUN_KEY, "")
            ok = (self.run is None or run == self.run) and (self.stage is None or stage == str(self.stage))
            return ok, stage, run
        if self.stage is None and name and name.startswith(self.prefix()):
            run = name[len(tags.PREFIX) + 1:].split("-", 1)[0]
            return True, "", run
        return False, "", ""


_CLIENTS: dict[tuple, Any] = {}


def _client(service: str, region: str):
    """A cached client for (target, service, region); the target is re-read at each call."""
    s = config.settings(region=region)
    key = (s.kind, s.endpoint or "", service, region, s.account or "")
    if key not in _CLIENTS:
        _CLIENTS[key] = aws.client(service, region=region)
    return _CLIENTS[key]


def _tag_dict(tag_items: Any) -> dict[str, str]:
    if not tag_items:
        return {}
    if isinstance(tag_items, dict):
        return dict(tag_items)
    out = {}
    for t in tag_items:
        k = t.get("Key", t.get("key", t.get("TagKey")))
        v = t.get("Value", t.get("value", t.get("TagValue", "")))
        if k is not None:
            out[k] = v
    return out


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _gone_codes(exc: ClientError, *codes: str) -> bool:
    code = _code(exc)
    return code in codes or "NotFound" in code or "NoSuch" in code


def _gone_when_absent(service: str, describe: str, id_param: str):
    """A `gone` check: done once `describe(id_param=r.id)` answers not-found, else still deleting."""
    def gone(scope, r):
        try:
            getattr(scope.client(service), describe)(**{id_param: r.id})
        except ClientError as exc:
            if _gone_codes(exc):
                return True
            raise
        return waits.Pending("deleting")
    return gone


# ---------------------------------------------------------------------------------------
# Kinds: how to find, delete and watch the deletion of each sort of resource
# ---------------------------------------------------------------------------------------

@dataclass
class Kind:
    name: str
    service: str
    find: Callable[[Scope], Iterable[Resource]]
    delete: Callable[[Scope, Resource], None]
    gone: Callable[[Scope, Resource], Any]  # truthy when gone, else falsy / waits.Pending(state)
    typical_s: float = 5
    timeout_s: float = 600
    global_: bool = False  # scanned once, in us-east-1
    scanned: bool = True  # part of the final "what remains" scan


def _paginate(client, op: str, key: str, **kw) -> Iterable[dict]:
    if client.can_paginate(op):
        for page in client.get_paginator(op).paginate(**kw):
            yield from page.get(key, [])
    else:
        yield from getattr(client, op)(**kw).get(key, [])


def _name_tag(t: Any) -> str:
    return _tag_dict(t).get("Name", "")


# --- EC2 ------------------------------------------------------------------------------

def _ec2_find(describe: str, key: str, id_key: str, states_ok: Callable[[dict], bool] = lambda x: True,
              nested: str | None = None, page_size: int | None = None):
    def find(scope: Scope):
        ec2 = scope.client("ec2")
        # moto 5.2.5 cuts describe_launch_templates at MaxResults (default 15) without a NextToken:
        # ask for AWS's maximum page so a busy account is still seen whole
        extra = {"PaginationConfig": {"PageSize": page_size}} if page_size else {}
        items = _paginate(ec2, describe, key, **extra)
        if nested:
            items = (i for r in items for i in r.get(nested, []))
        for item in items:
            if not states_ok(item):
                continue
            name = (_name_tag(item.get("Tags")) or item.get("KeyName") or item.get("GroupName")
                    or item.get("LaunchTemplateName") or "")
            ok, stage, run = scope.wants(item.get("Tags"), name)
            if ok:
                yield Resource("", item[id_key], name or item[id_key], scope.region, stage, run, data=item)
    return find


def _instance_live(i: dict) -> bool:
    return i["State"]["Name"] not in ("terminated",)


def _terminate(scope, r):
    scope.client("ec2").terminate_instances(InstanceIds=[r.id])


def _instance_gone(scope, r):
    try:
        res = scope.client("ec2").describe_instances(InstanceIds=[r.id])["Reservations"]
    except ClientError as exc:
        if _gone_codes(exc):
            return True
        raise
    states = [i["State"]["Name"] for x in res for i in x["Instances"]]
    return not states or all(s == "terminated" for s in states) or waits.Pending(",".join(states))


def _ec2_simple(op: str, id_param: str):
    def delete(scope, r):
        try:
            getattr(scope.client("ec2"), op)(**{id_param: r.id})
        except ClientError as exc:
            if not _gone_codes(exc):
                raise
    return delete


def _ec2_gone(describe: str, key: str, id_param: str, gone_states: tuple[str, ...] = (), id_key: str = ""):
    def gone(scope, r):
        try:
            items = getattr(scope.client("ec2"), describe)(**{id_param: [r.id]}).get(key, [])
        except ClientError as exc:
            if _gone_codes(exc):
                return True
            raise
        if id_key:
            items = [i for i in items if i.get(id_key) == r.id]
        states = [i.get("State", "") if isinstance(i.get("State"), str) else "" for i in items]
        if not items or all(s.lower() in gone_states for s in states if s) and any(states):
            return True
        return waits.Pending(",".join(s for s in states if s) or "deleting")
    return gone


def _release_eip(scope, r):
    ec2 = scope.client("ec2")
    if r.data.get("AssociationId"):
        try:
            ec2.disassociate_address(AssociationId=r.data["AssociationId"])
        except ClientError as exc:
            if not _gone_codes(exc):
                raise
    ec2.release_address(AllocationId=r.id)


def _eip_gone(scope, r):
    try:
        return not scope.client("ec2").describe_addresses(AllocationIds=[r.id])["Addresses"]
    except ClientError as exc:
        if _gone_codes(exc, "InvalidAllocationID.NotFound"):
            return True
        raise


def _course_vpcs(scope: Scope) -> list[str]:
    return [r.id for r in _ec2_find("describe_vpcs", "Vpcs", "VpcId")(scope)]


def _find_enis(scope: Scope):
    """ENIs tagged for the course, or still in one of the course's VPCs (course or run teardown).

    By this wave the instances, load balancers, databases and functions are gone: an
    interface left in a course VPC is either available (deleted here), being released by
    AWS (requester-managed, e.g. Lambda's: waited for), or held by something that is not
    the course's (reported as a blocker naming it).
    """
    ec2 = scope.client("ec2")
    vpcs = set(_course_vpcs(scope)) if scope.stage is None else set()
    for eni in _paginate(ec2, "describe_network_interfaces", "NetworkInterfaces"):
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
    if attachment.get("AttachmentId") and not _tag_dict(r.data.get("TagSet")).get(tags.COURSE_KEY):
        raise ClientError({"Error": {"Code": "DependencyViolation", "Message": f"{r.id} is attached to "
                                     f"{attachment.get('InstanceId') or 'another resource'}"}}, "DeleteNetworkInterface")
    if attachment.get("AttachmentId") and attachment.get("DeviceIndex", 0) != 0:
        ec2.detach_network_interface(AttachmentId=attachment["AttachmentId"], Force=True)
        waits.wait_for(f"ENI {r.id} detached", lambda: _eni_status(scope, r) in ("available", "gone"), 300, 10)
    ec2.delete_network_interface(NetworkInterfaceId=r.id)


def _eni_status(scope, r) -> str:
    try:
        items = scope.client("ec2").describe_network_interfaces(NetworkInterfaceIds=[r.id])["NetworkInterfaces"]
    except ClientError as exc:
        if _gone_codes(exc):
            return "gone"
        raise
    return items[0]["Status"] if items else "gone"


def _eni_gone(scope, r):
    s = _eni_status(scope, r)
    return s == "gone" or waits.Pending(s)


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
        if not _gone_codes(exc):
            raise
    ec2.delete_security_group(GroupId=r.id)


def _find_sgs(scope):
    vpcs = set(_course_vpcs(scope))
    ec2 = scope.client("ec2")
    for sg in _paginate(ec2, "describe_security_groups", "SecurityGroups"):
        if sg.get("GroupName") == "default":
            continue
        ok, stage, run = scope.wants(sg.get("Tags"), sg.get("GroupName"))
        if ok or (scope.stage is None and sg.get("VpcId") in vpcs):
            yield Resource("", sg["GroupId"], sg.get("GroupName", ""), scope.region, stage, run, data=sg)


def _find_route_tables(scope):
    vpcs = set(_course_vpcs(scope))
    for rt in _paginate(scope.client("ec2"), "describe_route_tables", "RouteTables"):
        if any(a.get("Main") for a in rt.get("Associations", [])):
            continue  # the main table goes with its VPC
        ok, stage, run = scope.wants(rt.get("Tags"), _name_tag(rt.get("Tags")))
        if ok or (scope.stage is None and rt.get("VpcId") in vpcs):
            yield Resource("", rt["RouteTableId"], _name_tag(rt.get("Tags")) or rt["RouteTableId"], scope.region,
                           stage, run, data=rt)


def _delete_route_table(scope, r):
    ec2 = scope.client("ec2")
    for a in r.data.get("Associations", []):
        if a.get("RouteTableAssociationId") and not a.get("Main"):
            try:
                ec2.disassociate_route_table(AssociationId=a["RouteTableAssociationId"])
            except ClientError as exc:
                if not _gone_codes(exc):
                    raise
    ec2.delete_route_table(RouteTableId=r.id)


def _find_igws(scope):
    vpcs = set(_course_vpcs(scope))
    for igw in _paginate(scope.client("ec2"), "describe_internet_gateways", "InternetGateways"):
        attached = [a["VpcId"] for a in igw.get("Attachments", [])]
        ok, stage, run = scope.wants(igw.get("Tags"), _name_tag(igw.get("Tags")))
        if ok or (scope.stage is None and set(attached) & vpcs):
            yield Resource("", igw["InternetGatewayId"], _name_tag(igw.get("Tags")) or igw["InternetGatewayId"],
                           scope.region, stage, run, data=igw)


def _delete_igw(scope, r):
    ec2 = scope.client("ec2")
    for a in r.data.get("Attachments", []):
        try:
            ec2.detach_internet_gateway(InternetGatewayId=r.id, VpcId=a["VpcId"])
        except ClientError as exc:
            if not _gone_codes(exc, "Gateway.NotAttached"):
                raise
    ec2.delete_internet_gateway(InternetGatewayId=r.id)


def _find_subnets(scope):
    vpcs = set(_course_vpcs(scope))
    for sn in _paginate(scope.client("ec2"), "describe_subnets", "Subnets"):
        ok, stage, run = scope.wants(sn.get("Tags"), _name_tag(sn.get("Tags")))
        if ok or (scope.stage is None and sn.get("VpcId") in vpcs):
            yield Resource("", sn["SubnetId"], _name_tag(sn.get("Tags")) or sn["SubnetId"], scope.region,
                           stage, run, data=sn)


# --- Auto Scaling ---------------------------------------------------------------------

def _find_asgs(scope):
    a = scope.client("autoscaling")
    for g in _paginate(a, "describe_auto_scaling_groups", "AutoScalingGroups"):
        ok, stage, run = scope.wants(g.get("Tags"), g["AutoScalingGroupName"])
        if ok:
            yield Resource("", g["AutoScalingGroupName"], g["AutoScalingGroupName"], scope.region, stage, run,
                           g.get("Status", ""), g)


def _delete_asg(scope, r):
    try:
        scope.client("autoscaling").delete_auto_scaling_group(AutoScalingGroupName=r.id, ForceDelete=True)
    except ClientError as exc:
        if "in progress" not in str(exc).lower() and not _gone_codes(exc):
            raise


def _asg_gone(scope, r):
    groups = scope.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[r.id])["AutoScalingGroups"]
    if not groups:
        return True
    return waits.Pending(f"{groups[0].get('Status') or 'deleting'}, {len(groups[0].get('Instances', []))} instances")


def _find_launch_configs(scope):
    for lc in _paginate(scope.client("autoscaling"), "describe_launch_configurations", "LaunchConfigurations"):
        ok, stage, run = scope.wants(None, lc["LaunchConfigurationName"])
        if ok:
            yield Resource("", lc["LaunchConfigurationName"], lc["LaunchConfigurationName"], scope.region, stage, run)


def _delete_launch_config(scope, r):
    scope.client("autoscaling").delete_launch_configuration(LaunchConfigurationName=r.id)


def _launch_config_gone(scope, r):
    return not scope.client("autoscaling").describe_launch_configurations(
        LaunchConfigurationNames=[r.id])["LaunchConfigurations"]


def _launch_template_gone(scope, r):
    try:
        return not scope.client("ec2").describe_launch_templates(LaunchTemplateIds=[r.id])["LaunchTemplates"]
    except ClientError as exc:
        if _gone_codes(exc, "InvalidLaunchTemplateId.Malformed"):
            return True
        raise


# --- Load balancing -------------------------------------------------------------------

def _elbv2_tags(client, arns: list[str]) -> dict[str, list]:
    out: dict[str, list] = {}
    for i in range(0, len(arns), 20):
        for d in client.describe_tags(ResourceArns=arns[i:i + 20])["TagDescriptions"]:
            out[d["ResourceArn"]] = d.get("Tags", [])
    return out


def _find_elbv2(op: str, key: str, arn_key: str, name_key: str):
    def find(scope):
        c = scope.client("elbv2")
        items = list(_paginate(c, op, key))
        tag_map = _elbv2_tags(c, [i[arn_key] for i in items]) if items else {}
        for i in items:
            ok, stage, run = scope.wants(tag_map.get(i[arn_key]), i[name_key])
            if ok:
                state = (i.get("State") or {}).get("Code", "")
                yield Resource("", i[arn_key], i[name_key], scope.region, stage, run, state, i)
    return find


def _lb_gone(scope, r):
    try:
        lbs = scope.client("elbv2").describe_load_balancers(LoadBalancerArns=[r.id])["LoadBalancers"]
    except ClientError as exc:
        if _gone_codes(exc, "LoadBalancerNotFound"):
            return True
        raise
    return not lbs or waits.Pending((lbs[0].get("State") or {}).get("Code", "deleting"))


def _tg_gone(scope, r):
    try:
        return not scope.client("elbv2").describe_target_groups(TargetGroupArns=[r.id])["TargetGroups"]
    except ClientError as exc:
        if _gone_codes(exc, "TargetGroupNotFound"):
            return True
        raise


def _find_classic_elbs(scope):
    c = scope.client("elb")
    items = list(_paginate(c, "describe_load_balancers", "LoadBalancerDescriptions"))
    names = [i["LoadBalancerName"] for i in items]
    tag_map: dict[str, list] = {}
    for i in range(0, len(names), 20):
        for d in c.describe_tags(LoadBalancerNames=names[i:i + 20])["TagDescriptions"]:
            tag_map[d["LoadBalancerName"]] = d.get("Tags", [])
    for i in items:
        ok, stage, run = scope.wants(tag_map.get(i["LoadBalancerName"]), i["LoadBalancerName"])
        if ok:
            yield Resource("", i["LoadBalancerName"], i["LoadBalancerName"], scope.region, stage, run, data=i)


def _classic_elb_gone(scope, r):
    try:
        return not scope.client("elb").describe_load_balancers(LoadBalancerNames=[r.id])["LoadBalancerDescriptions"]
    except ClientError as exc:
        if _gone_codes(exc, "LoadBalancerNotFound"):
            return True
        raise


# --- RDS ------------------------------------------------------------------------------

def _find_dbs(replicas: bool):
    def find(scope):
        rds = scope.client("rds")
        for db in _paginate(rds, "describe_db_instances", "DBInstances"):
            if bool(db.get("ReadReplicaSourceDBInstanceIdentifier")) != replicas:
                continue
            tag_list = db.get("TagList")
            if tag_list is None:
                tag_list = rds.list_tags_for_resource(ResourceName=db["DBInstanceArn"]).get("TagList", [])
            ok, stage, run = scope.wants(tag_list, db["DBInstanceIdentifier"])
            if ok:
                yield Resource("", db["DBInstanceIdentifier"], db["DBInstanceIdentifier"], scope.region, stage, run,
                               db.get("DBInstanceStatus", ""), db)
    return find


def _delete_db(scope, r):
    if r.state == "deleting":
        return
    if r.data.get("DeletionProtection"):
        scope.client("rds").modify_db_instance(DBInstanceIdentifier=r.id, DeletionProtection=False, ApplyImmediately=True)
    try:
        scope.client("rds").delete_db_instance(DBInstanceIdentifier=r.id, SkipFinalSnapshot=True,
                                               DeleteAutomatedBackups=True)
    except ClientError as exc:
        if _code(exc) == "InvalidDBInstanceState" and "deleting" in str(exc).lower() or _gone_codes(exc):
            return
        raise


def _db_gone(scope, r):
    try:
        dbs = scope.client("rds").describe_db_instances(DBInstanceIdentifier=r.id)["DBInstances"]
    except ClientError as exc:
        if _gone_codes(exc, "DBInstanceNotFound"):
            return True
        raise
    return not dbs or waits.Pending(dbs[0].get("DBInstanceStatus", "deleting"))


def _find_rds_named(op: str, key: str, id_key: str, skip_default: bool = True):
    def find(scope):
        for g in _paginate(scope.client("rds"), op, key):
            name = g[id_key]
            if skip_default and name.startswith("default"):
                continue
            tag_list = None
            arn = next((v for k, v in g.items() if k.endswith("Arn")), None)
            if arn:
                try:
                    tag_list = scope.client("rds").list_tags_for_resource(ResourceName=arn).get("TagList", [])
                except (ClientError, Unsupported):
                    tag_list = None
            ok, stage, run = scope.wants(tag_list, name)
            if ok:
                yield Resource("", name, name, scope.region, stage, run, data=g)
    return find


def _rds_gone(op: str, param: str, key: str):
    def gone(scope, r):
        try:
            return not getattr(scope.client("rds"), op)(**{param: r.id}).get(key)
        except ClientError as exc:
            if _gone_codes(exc):
                return True
            raise
    return gone


# --- ElastiCache ----------------------------------------------------------------------

def _ec_tags(scope, arn: str | None):
    if not arn:
        return None
    try:
        return scope.client("elasticache").list_tags_for_resource(ResourceName=arn).get("TagList", [])
    except (ClientError, Unsupported):
        return None


def _find_replication_groups(scope):
    for g in _paginate(scope.client("elasticache"), "describe_replication_groups", "ReplicationGroups"):
        ok, stage, run = scope.wants(_ec_tags(scope, g.get("ARN")), g["ReplicationGroupId"])
        if ok:
            yield Resource("", g["ReplicationGroupId"], g["ReplicationGroupId"], scope.region, stage, run,
                           g.get("Status", ""), g)


def _find_cache_clusters(scope):
    for c in _paginate(scope.client("elasticache"), "describe_cache_clusters", "CacheClusters"):
        if c.get("ReplicationGroupId"):
            continue  # deleted with its replication group
        ok, stage, run = scope.wants(_ec_tags(scope, c.get("ARN")), c["CacheClusterId"])
        if ok:
            yield Resource("", c["CacheClusterId"], c["CacheClusterId"], scope.region, stage, run,
                           c.get("CacheClusterStatus", ""), c)


def _ec_delete(op: str, param: str):
    def delete(scope, r):
        if r.state == "deleting":
            return
        try:
            getattr(scope.client("elasticache"), op)(**{param: r.id})
        except ClientError as exc:
            if _gone_codes(exc) or "deleting" in str(exc).lower():
                return
            raise
    return delete


def _ec_gone(op: str, param: str, key: str, status_key: str):
    def gone(scope, r):
        try:
            items = getattr(scope.client("elasticache"), op)(**{param: r.id}).get(key, [])
        except ClientError as exc:
            if _gone_codes(exc):
                return True
            raise
        return not items or items[0].get(status_key) == "deleted" or waits.Pending(items[0].get(status_key, ""))
    return gone


def _find_cache_subnet_groups(scope):
    for g in _paginate(scope.client("elasticache"), "describe_cache_subnet_groups", "CacheSubnetGroups"):
        name = g["CacheSubnetGroupName"]
        if name == "default":
            continue
        ok, stage, run = scope.wants(_ec_tags(scope, g.get("ARN")), name)
        if ok:
            yield Resource("", name, name, scope.region, stage, run, data=g)


# --- CloudFront -----------------------------------------------------------------------

def _find_distributions(scope):
    cf = scope.client("cloudfront")
    for page in cf.get_paginator("list_distributions").paginate():
        for d in (page.get("DistributionList") or {}).get("Items", []) or []:
            t = cf.list_tags_for_resource(Resource=d["ARN"]).get("Tags", {}).get("Items", [])
            ok, stage, run = scope.wants(t, d.get("Comment", ""))
            if ok:
                yield Resource("", d["Id"], d.get("Comment") or d["DomainName"], scope.region, stage, run,
                               f"{d.get('Status')}, {'enabled' if d.get('Enabled') else 'disabled'}", d)


def _disable_distribution(scope, r):
    cf = scope.client("cloudfront")
    got = cf.get_distribution_config(Id=r.id)
    cfg = got["DistributionConfig"]
    if cfg.get("Enabled"):
        cfg["Enabled"] = False
        cf.update_distribution(Id=r.id, IfMatch=got["ETag"], DistributionConfig=cfg)


def _distribution_disabled(scope, r):
    cf = scope.client("cloudfront")
    try:
        d = cf.get_distribution(Id=r.id)["Distribution"]
    except ClientError as exc:
        if _gone_codes(exc, "NoSuchDistribution"):
            return True
        raise
    if d["Status"] == "Deployed" and not d["DistributionConfig"]["Enabled"]:
        return True
    return waits.Pending(f"{d['Status']}, {'enabled' if d['DistributionConfig']['Enabled'] else 'disabled'}")


def _delete_distribution(scope, r):
    cf = scope.client("cloudfront")
    try:
        etag = cf.get_distribution(Id=r.id)["ETag"]
        cf.delete_distribution(Id=r.id, IfMatch=etag)
    except ClientError as exc:
        if not _gone_codes(exc, "NoSuchDistribution"):
            raise


def _distribution_gone(scope, r):
    try:
        scope.client("cloudfront").get_distribution(Id=r.id)
    except ClientError as exc:
        if _gone_codes(exc, "NoSuchDistribution"):
            return True
        raise
    return waits.Pending("deleting")


def _find_oacs(scope):
    cf = scope.client("cloudfront")
    items = (cf.list_origin_access_controls().get("OriginAccessControlList") or {}).get("Items", []) or []
    for o in items:
        ok, stage, run = scope.wants(None, o.get("Name", ""))
        if ok:
            yield Resource("", o["Id"], o["Name"], scope.region, stage, run, data=o)


def _delete_oac(scope, r):
    cf = scope.client("cloudfront")
    etag = cf.get_origin_access_control(Id=r.id)["ETag"]
    cf.delete_origin_access_control(Id=r.id, IfMatch=etag)


_oac_gone = _gone_when_absent("cloudfront", "get_origin_access_control", "Id")


# --- API Gateway ----------------------------------------------------------------------

def _find_rest_apis(scope):
    for api in _paginate(scope.client("apigateway"), "get_rest_apis", "items"):
        ok, stage, run = scope.wants(api.get("tags"), api["name"])
        if ok:
            yield Resource("", api["id"], api["name"], scope.region, stage, run, data=api)


def _delete_rest_api(scope, r):
    _remember_log_groups(r, [f"API-Gateway-Execution-Logs_{r.id}/"])
    try:
        scope.client("apigateway").delete_rest_api(restApiId=r.id)
    except ClientError as exc:
        if not _gone_codes(exc):
            raise


_rest_api_gone = _gone_when_absent("apigateway", "get_rest_api", "restApiId")


def _find_http_apis(scope):
    for api in _paginate(scope.client("apigatewayv2"), "get_apis", "Items"):
        ok, stage, run = scope.wants(api.get("Tags"), api["Name"])
        if ok:
            yield Resource("", api["ApiId"], api["Name"], scope.region, stage, run, data=api)


_http_api_gone = _gone_when_absent("apigatewayv2", "get_api", "ApiId")


# --- Lambda, logs ---------------------------------------------------------------------

def _find_functions(scope):
    lam = scope.client("lambda")
    for f in _paginate(lam, "list_functions", "Functions"):
        try:
            t = lam.list_tags(Resource=f["FunctionArn"]).get("Tags", {})
        except ClientError:
            t = {}
        ok, stage, run = scope.wants(t, f["FunctionName"])
        if ok:
            yield Resource("", f["FunctionName"], f["FunctionName"], scope.region, stage, run, data=f)


def _find_mappings(scope):
    lam = scope.client("lambda")
    for f in _find_functions(scope):
        for m in _paginate(lam, "list_event_source_mappings", "EventSourceMappings", FunctionName=f.id):
            yield Resource("", m["UUID"], f"{f.name} <- {m.get('EventSourceArn', '').split(':')[-1]}", scope.region,
                           f.stage, f.run, m.get("State", ""), m)


def _delete_mapping(scope, r):
    try:
        scope.client("lambda").delete_event_source_mapping(UUID=r.id)
    except ClientError as exc:
        if not _gone_codes(exc) and "ResourceInUse" not in _code(exc):
            raise


def _mapping_gone(scope, r):
    try:
        m = scope.client("lambda").get_event_source_mapping(UUID=r.id)
    except ClientError as exc:
        if _gone_codes(exc):
            return True
        raise
    return waits.Pending(m.get("State", "Deleting"))


def _delete_function(scope, r):
    _remember_log_groups(r, [f"/aws/lambda/{r.id}"])
    try:
        scope.client("lambda").delete_function(FunctionName=r.id)
    except ClientError as exc:
        if not _gone_codes(exc):
            raise


_function_gone = _gone_when_absent("lambda", "get_function", "FunctionName")


#: log groups that belong to resources deleted in this process (e.g. a stage teardown
#: deleting a function deletes its /aws/lambda/<name> group too, even untagged)
_OWNED_LOG_GROUPS: dict[str, set[str]] = {}


def _remember_log_groups(r: Resource, prefixes: list[str]) -> None:
    _OWNED_LOG_GROUPS.setdefault(r.region, set()).update(prefixes)


def _find_log_groups(scope):
    logs = scope.client("logs")
    owned = _OWNED_LOG_GROUPS.get(scope.region, set())
    for g in _paginate(logs, "describe_log_groups", "logGroups"):
        name = g["logGroupName"]
        short = name.split("/")[-1] if name.startswith(("/aws/lambda/", "/aws/kinesisfirehose/")) else name
        try:
            t = logs.list_tags_log_group(logGroupName=name).get("tags", {})
        except (ClientError, Unsupported):
            t = {}
        ok, stage, run = scope.wants(t, short)
        if ok or any(name.startswith(p) for p in owned):
            yield Resource("", name, name, scope.region, stage, run, data=g)


def _delete_log_group(scope, r):
    try:
        scope.client("logs").delete_log_group(logGroupName=r.id)
    except ClientError as exc:
        if not _gone_codes(exc):
            raise


def _log_group_gone(scope, r):
    groups = scope.client("logs").describe_log_groups(logGroupNamePrefix=r.id).get("logGroups", [])
    return not any(g["logGroupName"] == r.id for g in groups) or waits.Pending("deleting")


# --- Firehose, DynamoDB, S3 -----------------------------------------------------------

def _find_streams(scope):
    fh = scope.client("firehose")
    names, start = [], None
    while True:
        kw = {"ExclusiveStartDeliveryStreamName": start} if start else {}
        page = fh.list_delivery_streams(Limit=100, **kw)
        names += page.get("DeliveryStreamNames", [])
        if not page.get("HasMoreDeliveryStreams") or not names:
            break
        start = names[-1]
    for n in names:
        try:
            t = fh.list_tags_for_delivery_stream(DeliveryStreamName=n).get("Tags", [])
        except ClientError:
            t = []
        ok, stage, run = scope.wants(t, n)
        if ok:
            yield Resource("", n, n, scope.region, stage, run)


def _delete_stream(scope, r):
    try:
        scope.client("firehose").delete_delivery_stream(DeliveryStreamName=r.id, AllowForceDelete=True)
    except ClientError as exc:
        if not _gone_codes(exc) and "ResourceInUse" not in _code(exc):
            raise


def _stream_gone(scope, r):
    try:
        d = scope.client("firehose").describe_delivery_stream(DeliveryStreamName=r.id)["DeliveryStreamDescription"]
    except ClientError as exc:
        if _gone_codes(exc):
            return True
        raise
    return waits.Pending(d.get("DeliveryStreamStatus", "DELETING"))


def _find_tables(scope):
    ddb = scope.client("dynamodb")
    for n in _paginate(ddb, "list_tables", "TableNames"):
        try:
            desc = ddb.describe_table(TableName=n)["Table"]
            t = ddb.list_tags_of_resource(ResourceArn=desc["TableArn"]).get("Tags", [])
        except ClientError as exc:
            if _gone_codes(exc):
                continue
            raise
        ok, stage, run = scope.wants(t, n)
        if ok:
            yield Resource("", n, n, scope.region, stage, run, desc.get("TableStatus", ""), desc)


def _delete_table(scope, r):
    ddb = scope.client("dynamodb")
    if r.state == "DELETING":
        return
    if r.data.get("DeletionProtectionEnabled"):
        ddb.update_table(TableName=r.id, DeletionProtectionEnabled=False)
    try:
        ddb.delete_table(TableName=r.id)
    except ClientError as exc:
        if not _gone_codes(exc) and "ResourceInUse" not in _code(exc):
            raise


def _table_gone(scope, r):
    try:
        t = scope.client("dynamodb").describe_table(TableName=r.id)["Table"]
    except ClientError as exc:
        if _gone_codes(exc):
            return True
        raise
    return waits.Pending(t.get("TableStatus", "DELETING"))


def _find_buckets(scope):
    s3 = scope.client("s3")
    for b in s3.list_buckets().get("Buckets", []):
        name = b["Name"]
        try:
            t = s3.get_bucket_tagging(Bucket=name).get("TagSet", [])
        except ClientError:
            t = []  # NoSuchTagSet, or a bucket in another account's hands
        ok, stage, run = scope.wants(t, name)
        if ok:
            try:
                region = s3.get_bucket_location(Bucket=name).get("LocationConstraint") or GLOBAL_REGION
            except ClientError:
                region = scope.region
            yield Resource("", name, name, region, stage, run)


def _empty_and_delete_bucket(scope, r):
    """Delete every object version and delete marker (a versioned bucket keeps them), then the bucket."""
    s3 = _client("s3", r.region)
    try:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=r.id):
            batch = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                     for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            for i in range(0, len(batch), 1000):
                s3.delete_objects(Bucket=r.id, Delete={"Objects": batch[i:i + 1000], "Quiet": True})
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=r.id):  # unversioned leftovers
            batch = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if batch:
                s3.delete_objects(Bucket=r.id, Delete={"Objects": batch, "Quiet": True})
        for u in s3.list_multipart_uploads(Bucket=r.id).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=r.id, Key=u["Key"], UploadId=u["UploadId"])
        s3.delete_bucket(Bucket=r.id)
    except ClientError as exc:
        if not _gone_codes(exc, "NoSuchBucket"):
            raise


def _bucket_gone(scope, r):
    try:
        _client("s3", r.region).head_bucket(Bucket=r.id)
    except ClientError as exc:
        if _code(exc) in ("404", "NoSuchBucket", "NotFound"):
            return True
        raise
    return waits.Pending("deleting")


# --- Route 53 -------------------------------------------------------------------------

def _find_zones(scope):
    r53 = scope.client("route53")
    for z in _paginate(r53, "list_hosted_zones", "HostedZones"):
        zid = z["Id"].split("/")[-1]
        t = r53.list_tags_for_resource(ResourceType="hostedzone", ResourceId=zid).get("ResourceTagSet", {}).get("Tags", [])
        ok, stage, run = scope.wants(t, z["Name"])
        if ok:
            yield Resource("", zid, z["Name"].rstrip("."), scope.region, stage, run, data=z)


def _delete_zone(scope, r):
    """Delete every record but the zone's own SOA and NS, then the zone."""
    r53 = scope.client("route53")
    apex = r.data["Name"]
    changes = [{"Action": "DELETE", "ResourceRecordSet": rr}
               for rr in _paginate(r53, "list_resource_record_sets", "ResourceRecordSets", HostedZoneId=r.id)
               if not (rr["Type"] in ("SOA", "NS") and rr["Name"] == apex)]
    for i in range(0, len(changes), 100):
        r53.change_resource_record_sets(HostedZoneId=r.id, ChangeBatch={"Changes": changes[i:i + 100]})
    try:
        r53.delete_hosted_zone(Id=r.id)
    except ClientError as exc:
        if not _gone_codes(exc, "NoSuchHostedZone"):
            raise


def _zone_gone(scope, r):
    try:
        scope.client("route53").get_hosted_zone(Id=r.id)
    except ClientError as exc:
        if _gone_codes(exc, "NoSuchHostedZone"):
            return True
        raise
    return waits.Pending("deleting")


def _find_health_checks(scope):
    r53 = scope.client("route53")
    checks = list(_paginate(r53, "list_health_checks", "HealthChecks"))
    for hc in checks:
        t = r53.list_tags_for_resource(ResourceType="healthcheck", ResourceId=hc["Id"]).get("ResourceTagSet", {}).get("Tags", [])
        ok, stage, run = scope.wants(t, _name_tag(t) or hc.get("CallerReference", ""))
        if ok:
            yield Resource("", hc["Id"], _name_tag(t) or hc["Id"], scope.region, stage, run, data=hc)


def _health_check_gone(scope, r):
    try:
        scope.client("route53").get_health_check(HealthCheckId=r.id)
    except ClientError as exc:
        if _gone_codes(exc, "NoSuchHealthCheck"):
            return True
        raise
    return waits.Pending("deleting")


# --- IAM ------------------------------------------------------------------------------

def _find_roles(scope):
    iam = scope.client("iam")
    for role in _paginate(iam, "list_roles", "Roles"):
        name = role["RoleName"]
        if role.get("Path", "/").startswith("/aws-service-role/"):
            continue
        t = iam.list_role_tags(RoleName=name).get("Tags", []) if name.startswith(tags.PREFIX + "-") or scope.stage is not None else []
        ok, stage, run = scope.wants(t, name)
        if ok:
            yield Resource("", name, name, scope.region, stage, run, data=role)


def _delete_role(scope, r):
    iam = scope.client("iam")
    for p in _paginate(iam, "list_attached_role_policies", "AttachedPolicies", RoleName=r.id):
        iam.detach_role_policy(RoleName=r.id, PolicyArn=p["PolicyArn"])
    for p in _paginate(iam, "list_role_policies", "PolicyNames", RoleName=r.id):
        iam.delete_role_policy(RoleName=r.id, PolicyName=p)
    for prof in _paginate(iam, "list_instance_profiles_for_role", "InstanceProfiles", RoleName=r.id):
        iam.remove_role_from_instance_profile(InstanceProfileName=prof["InstanceProfileName"], RoleName=r.id)
    try:
        iam.delete_role(RoleName=r.id)
    except ClientError as exc:
        if not _gone_codes(exc):
            raise


def _iam_gone(op: str, param: str):
    def gone(scope, r):
        try:
            getattr(scope.client("iam"), op)(**{param: r.id})
        except ClientError as exc:
            if _gone_codes(exc):
                return True
            raise
        return waits.Pending("deleting")
    return gone


def _find_instance_profiles(scope):
    for p in _paginate(scope.client("iam"), "list_instance_profiles", "InstanceProfiles"):
        ok, stage, run = scope.wants(p.get("Tags"), p["InstanceProfileName"])
        if ok:
            yield Resource("", p["InstanceProfileName"], p["InstanceProfileName"], scope.region, stage, run, data=p)


def _delete_instance_profile(scope, r):
    iam = scope.client("iam")
    for role in r.data.get("Roles", []):
        iam.remove_role_from_instance_profile(InstanceProfileName=r.id, RoleName=role["RoleName"])
    iam.delete_instance_profile(InstanceProfileName=r.id)


def _find_policies(scope):
    iam = scope.client("iam")
    for p in _paginate(iam, "list_policies", "Policies", Scope="Local"):
        ok, stage, run = scope.wants(p.get("Tags"), p["PolicyName"])
        if not ok and scope.stage is not None and p["PolicyName"].startswith(tags.PREFIX + "-"):
            t = iam.list_policy_tags(PolicyArn=p["Arn"]).get("Tags", [])
            ok, stage, run = scope.wants(t, p["PolicyName"])
        if ok:
            yield Resource("", p["Arn"], p["PolicyName"], scope.region, stage, run, data=p)


def _delete_policy(scope, r):
    iam = scope.client("iam")
    ents = iam.list_entities_for_policy(PolicyArn=r.id)
    for g in ents.get("PolicyGroups", []):
        iam.detach_group_policy(GroupName=g["GroupName"], PolicyArn=r.id)
    for u in ents.get("PolicyUsers", []):
        iam.detach_user_policy(UserName=u["UserName"], PolicyArn=r.id)
    for ro in ents.get("PolicyRoles", []):
        iam.detach_role_policy(RoleName=ro["RoleName"], PolicyArn=r.id)
    for v in iam.list_policy_versions(PolicyArn=r.id).get("Versions", []):
        if not v["IsDefaultVersion"]:
            iam.delete_policy_version(PolicyArn=r.id, VersionId=v["VersionId"])
    iam.delete_policy(PolicyArn=r.id)


# --- CloudWatch -----------------------------------------------------------------------

def _find_alarms(scope):
    cw = scope.client("cloudwatch")
    for a in _paginate(cw, "describe_alarms", "MetricAlarms"):
        try:
            t = cw.list_tags_for_resource(ResourceARN=a["AlarmArn"]).get("Tags", [])
        except (ClientError, Unsupported):
            t = []
        ok, stage, run = scope.wants(t, a["AlarmName"])
        if ok:
            yield Resource("", a["AlarmName"], a["AlarmName"], scope.region, stage, run, data=a)


def _alarm_gone(scope, r):
    return not scope.client("cloudwatch").describe_alarms(AlarmNames=[r.id]).get("MetricAlarms")


# ---------------------------------------------------------------------------------------
# The order
# ---------------------------------------------------------------------------------------

def _k(name, service, find, delete, gone, typical_s=5, timeout_s=900, global_=False, scanned=True) -> Kind:
    return Kind(name, service, find, delete, gone, typical_s, timeout_s, global_, scanned)


def _nothing(scope, r):
    return None


#: each wave starts all its deletions, then waits for them together (typical_s: AWS's usual time)
WAVES: list[list[Kind]] = [
    [  # front doors and whatever holds instances, databases or streams
        _k("cloudfront distribution (disable)", "cloudfront", _find_distributions, _disable_distribution,
           _distribution_disabled, typical_s=300, timeout_s=2700, global_=True, scanned=False),
        _k("api gateway rest api", "apigateway", _find_rest_apis, _delete_rest_api, _rest_api_gone),
        _k("api gateway http api", "apigatewayv2", _find_http_apis,
           lambda s, r: s.client("apigatewayv2").delete_api(ApiId=r.id), _http_api_gone),
        _k("route53 hosted zone", "route53", _find_zones, _delete_zone, _zone_gone, global_=True),
        _k("route53 health check", "route53", _find_health_checks,
           lambda s, r: s.client("route53").delete_health_check(HealthCheckId=r.id), _health_check_gone, global_=True),
        _k("cloudwatch alarm", "cloudwatch", _find_alarms,
           lambda s, r: s.client("cloudwatch").delete_alarms(AlarmNames=[r.id]), _alarm_gone),
        _k("lambda event source mapping", "lambda", _find_mappings, _delete_mapping, _mapping_gone, typical_s=30),
        _k("firehose delivery stream", "firehose", _find_streams, _delete_stream, _stream_gone, typical_s=60),
        _k("autoscaling group", "autoscaling", _find_asgs, _delete_asg, _asg_gone, typical_s=180, timeout_s=1800),
        _k("load balancer", "elbv2", _find_elbv2("describe_load_balancers", "LoadBalancers", "LoadBalancerArn",
                                                  "LoadBalancerName"),
           lambda s, r: s.client("elbv2").delete_load_balancer(LoadBalancerArn=r.id), _lb_gone, typical_s=30),
        _k("classic load balancer", "elb", _find_classic_elbs,
           lambda s, r: s.client("elb").delete_load_balancer(LoadBalancerName=r.id), _classic_elb_gone, typical_s=30),
        _k("elasticache replication group", "elasticache", _find_replication_groups,
           _ec_delete("delete_replication_group", "ReplicationGroupId"),
           _ec_gone("describe_replication_groups", "ReplicationGroupId", "ReplicationGroups", "Status"),
           typical_s=420, timeout_s=2700),
        _k("rds instance (read replica)", "rds", _find_dbs(replicas=True), _delete_db, _db_gone,
           typical_s=420, timeout_s=3600),
        _k("ec2 nat gateway", "ec2", _ec2_find("describe_nat_gateways", "NatGateways", "NatGatewayId",
                                                lambda n: n.get("State") not in ("deleted", "deleting")),
           _ec2_simple("delete_nat_gateway", "NatGatewayId"),
           _ec2_gone("describe_nat_gateways", "NatGateways", "NatGatewayIds", ("deleted",)), typical_s=60),
    ],
    [  # what those stood on
        _k("ec2 instance", "ec2", _ec2_find("describe_instances", "Reservations", "InstanceId", _instance_live,
                                             nested="Instances"),
           _terminate, _instance_gone, typical_s=60, timeout_s=1200),
        _k("elasticache cluster", "elasticache", _find_cache_clusters,
           _ec_delete("delete_cache_cluster", "CacheClusterId"),
           _ec_gone("describe_cache_clusters", "CacheClusterId", "CacheClusters", "CacheClusterStatus"),
           typical_s=300, timeout_s=2700),
        _k("rds instance", "rds", _find_dbs(replicas=False), _delete_db, _db_gone, typical_s=600, timeout_s=3600),
        _k("cloudfront distribution", "cloudfront", _find_distributions, _delete_distribution, _distribution_gone,
           typical_s=60, timeout_s=1800, global_=True),
        _k("lambda function", "lambda", _find_functions, _delete_function, _function_gone),
        _k("dynamodb table", "dynamodb", _find_tables, _delete_table, _table_gone, typical_s=20),
        _k("s3 bucket", "s3", _find_buckets, _empty_and_delete_bucket, _bucket_gone, typical_s=10, global_=True),
        _k("ec2 launch template", "ec2", _ec2_find("describe_launch_templates", "LaunchTemplates", "LaunchTemplateId", page_size=200),
           _ec2_simple("delete_launch_template", "LaunchTemplateId"), _launch_template_gone),
        _k("autoscaling launch configuration", "autoscaling", _find_launch_configs, _delete_launch_config,
           _launch_config_gone),
        _k("target group", "elbv2", _find_elbv2("describe_target_groups", "TargetGroups", "TargetGroupArn",
                                                 "TargetGroupName"),
           lambda s, r: s.client("elbv2").delete_target_group(TargetGroupArn=r.id), _tg_gone),
    ],
    [  # leftovers of the above, and identities
        _k("cloudfront origin access control", "cloudfront", _find_oacs, _delete_oac, _oac_gone, global_=True),
        _k("ec2 vpc endpoint", "ec2", _ec2_find("describe_vpc_endpoints", "VpcEndpoints", "VpcEndpointId",
                                                 lambda e: e.get("State", "").lower() not in ("deleted", "deleting")),
           lambda s, r: s.client("ec2").delete_vpc_endpoints(VpcEndpointIds=[r.id]),
           _ec2_gone("describe_vpc_endpoints", "VpcEndpoints", "VpcEndpointIds", ("deleted",), id_key="VpcEndpointId"),
           typical_s=60),
        _k("cloudwatch log group", "logs", _find_log_groups, _delete_log_group, _log_group_gone),
        _k("ec2 elastic ip", "ec2", _ec2_find("describe_addresses", "Addresses", "AllocationId"), _release_eip,
           _eip_gone),
        _k("elasticache subnet group", "elasticache", _find_cache_subnet_groups,
           lambda s, r: s.client("elasticache").delete_cache_subnet_group(CacheSubnetGroupName=r.id),
           _ec_gone("describe_cache_subnet_groups", "CacheSubnetGroupName", "CacheSubnetGroups", "Status")),
        _k("rds db subnet group", "rds", _find_rds_named("describe_db_subnet_groups", "DBSubnetGroups",
                                                          "DBSubnetGroupName"),
           lambda s, r: s.client("rds").delete_db_subnet_group(DBSubnetGroupName=r.id),
           _rds_gone("describe_db_subnet_groups", "DBSubnetGroupName", "DBSubnetGroups")),
        _k("rds db parameter group", "rds", _find_rds_named("describe_db_parameter_groups", "DBParameterGroups",
                                                             "DBParameterGroupName"),
           lambda s, r: s.client("rds").delete_db_parameter_group(DBParameterGroupName=r.id),
           _rds_gone("describe_db_parameter_groups", "DBParameterGroupName", "DBParameterGroups")),
        _k("rds db snapshot", "rds", _find_rds_named("describe_db_snapshots", "DBSnapshots", "DBSnapshotIdentifier",
                                                      skip_default=False),
           lambda s, r: s.client("rds").delete_db_snapshot(DBSnapshotIdentifier=r.id),
           _rds_gone("describe_db_snapshots", "DBSnapshotIdentifier", "DBSnapshots")),
        _k("ec2 network interface", "ec2", _find_enis, _delete_eni, _eni_gone, typical_s=30, timeout_s=2700),
        _k("ec2 key pair", "ec2", _ec2_find("describe_key_pairs", "KeyPairs", "KeyPairId"),
           lambda s, r: s.client("ec2").delete_key_pair(KeyName=r.data["KeyName"]),  # by name: moto ignores the id
           _ec2_gone("describe_key_pairs", "KeyPairs", "KeyPairIds", id_key="KeyPairId")),
        _k("ec2 volume", "ec2", _ec2_find("describe_volumes", "Volumes", "VolumeId",
                                           lambda v: v.get("State") == "available"),
           _ec2_simple("delete_volume", "VolumeId"), _ec2_gone("describe_volumes", "Volumes", "VolumeIds", ("deleted",))),
        _k("iam role", "iam", _find_roles, _delete_role, _iam_gone("get_role", "RoleName"), global_=True),
        _k("iam instance profile", "iam", _find_instance_profiles, _delete_instance_profile,
           _iam_gone("get_instance_profile", "InstanceProfileName"), global_=True),
    ],
    [  # policies once no role holds them; security groups once no instance, LB or ENI does
        _k("iam policy", "iam", _find_policies, _delete_policy, _iam_gone("get_policy", "PolicyArn"), global_=True),
        _k("ec2 security group", "ec2", _find_sgs, _delete_sg,
           _ec2_gone("describe_security_groups", "SecurityGroups", "GroupIds"), timeout_s=300),
    ],
    [  # the network's inner parts
        _k("ec2 subnet", "ec2", _find_subnets, _ec2_simple("delete_subnet", "SubnetId"),
           _ec2_gone("describe_subnets", "Subnets", "SubnetIds")),
        _k("ec2 route table", "ec2", _find_route_tables, _delete_route_table,
           _ec2_gone("describe_route_tables", "RouteTables", "RouteTableIds")),
        _k("ec2 internet gateway", "ec2", _find_igws, _delete_igw,
           _ec2_gone("describe_internet_gateways", "InternetGateways", "InternetGatewayIds")),
    ],
    [  # and last the VPCs themselves
        _k("ec2 vpc", "ec2", _ec2_find("describe_vpcs", "Vpcs", "VpcId"), _ec2_simple("delete_vpc", "VpcId"),
           _ec2_gone("describe_vpcs", "Vpcs", "VpcIds")),
    ],
]

KINDS: list[Kind] = [k for wave in WAVES for k in wave]


# ---------------------------------------------------------------------------------------
# Finding, deleting, reporting
# ---------------------------------------------------------------------------------------

@dataclass
class Report:
    deleted: list[Resource] = field(default_factory=list)
    blocked: list[Blocker] = field(default_factory=list)
    remaining: list[Resource] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # kinds the target cannot list (local AWS gaps)

    @property
    def ok(self) -> bool:
        return not self.remaining and not self.blocked


def regions(extra: Iterable[str] = ()) -> list[str]:
    """The regions to sweep: the configured one, those the course recorded using, and `extra`."""
    found = {config.settings().region, *extra}
    try:
        found.update(json.loads(_regions_file().read_text()))
    except (OSError, ValueError):
        pass
    return sorted(found)


def _regions_file():
    return config.home() / "aws-regions.json"


def record_region(region: str) -> None:
    """Remember that the course used `region` on a real account, so teardown sweeps it."""
    path = _regions_file()
    try:
        known = set(json.loads(path.read_text()))
    except (OSError, ValueError):
        known = set()
    if region not in known:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(sorted(known | {region})))


def _scopes(run: str | None, stage: int | None, region_list: Iterable[str]) -> list[Scope]:
    return [Scope(r, run, stage) for r in region_list]


def find(kind: Kind, scope: Scope, skipped: list[str] | None = None) -> list[Resource]:
    """The course's resources of one kind in one scope (a kind the target lacks finds none)."""
    try:
        found = list(kind.find(scope))
    except Unsupported:
        if skipped is not None and kind.name not in skipped:
            skipped.append(kind.name)
        return []
    except ClientError as exc:
        if _code(exc) in ("UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken",
                          "AccessDenied", "AccessDeniedException", "UnauthorizedOperation"):
            raise WorkshopError(f"cannot list {kind.name}s in {scope.region}: {_code(exc)} — your credentials "
                                "need read and delete rights for the course's services") from None
        raise
    for r in found:
        r.kind = kind.name
    return found


def _kind_scopes(kind: Kind, scopes: list[Scope]) -> list[Scope]:
    if kind.global_:
        s = scopes[0]
        return [Scope(GLOBAL_REGION, s.run, s.stage)]
    return scopes


def plan(run: str | None = None, stage: int | None = None, region_list: Iterable[str] | None = None,
         skipped: list[str] | None = None) -> list[Resource]:
    """What a teardown would delete, in deletion order."""
    from concurrent.futures import ThreadPoolExecutor

    scopes = _scopes(run, stage, region_list or regions())
    jobs = [(kind, scope) for kind in KINDS if kind.scanned for scope in _kind_scopes(kind, scopes)]
    # the listing calls are independent and I/O-bound: ask the services at once, keep the order
    with ThreadPoolExecutor(max_workers=8) as pool:
        found = list(pool.map(lambda job: find(job[0], job[1], skipped), jobs))
    return [r for rs in found for r in rs]


#: services whose resources the kinds above find and delete; anything else the tagging API
#: reports as the course's is listed as "untracked" by `scan`, so it cannot go unnoticed
TRACKED_SERVICES = frozenset({
    "ec2", "elasticloadbalancing", "autoscaling", "rds", "elasticache", "cloudfront", "s3", "dynamodb", "lambda",
    "firehose", "apigateway", "route53", "iam", "logs", "cloudwatch"})


def _untracked(scope: Scope) -> list[Resource]:
    """Course-tagged resources of services teardown does not know (e.g. an SNS topic a stage adds later)."""
    filters = [{"Key": tags.COURSE_KEY, "Values": [config.COURSE]}]
    if scope.run:
        filters.append({"Key": tags.RUN_KEY, "Values": [scope.run]})
    if scope.stage is not None:
        filters.append({"Key": tags.STAGE_KEY, "Values": [str(scope.stage)]})
    out = []
    try:
        pages = scope.client("resourcegroupstaggingapi").get_paginator("get_resources").paginate(TagFilters=filters)
        for page in pages:
            for item in page.get("ResourceTagMappingList", []):
                arn = item["ResourceARN"]
                service = arn.split(":")[2] if arn.count(":") >= 5 else ""
                if service and service not in TRACKED_SERVICES:
                    t = _tag_dict(item.get("Tags"))
                    out.append(Resource(f"untracked {service} resource", arn, arn.split(":", 5)[-1], scope.region,
                                        t.get(tags.STAGE_KEY, ""), t.get(tags.RUN_KEY, "")))
    except (Unsupported, ClientError):
        return []
    return out


def scan(run: str | None = None, stage: int | None = None, region_list: Iterable[str] | None = None) -> list[Resource]:
    """What is left of the course (of a run or stage): must be empty after a teardown.

    Every kind teardown deletes, plus anything else tagged for the course that the tagging
    API finds in a service teardown does not know (delete those by hand, and tell us).
    """
    regions_ = list(region_list or regions())
    left = plan(run, stage, regions_)
    for r in regions_:
        left.extend(_untracked(Scope(r, run, stage)))
    return left


def _blocker(scope: Scope, r: Resource, exc: Exception) -> Blocker:
    """Name what holds `r`, and what to do."""
    code = _code(exc) if isinstance(exc, ClientError) else type(exc).__name__
    holder = ""
    if r.kind in ("ec2 security group", "ec2 subnet", "ec2 vpc"):
        key = {"ec2 security group": "group-id", "ec2 subnet": "subnet-id", "ec2 vpc": "vpc-id"}[r.kind]
        try:
            enis = scope.client("ec2").describe_network_interfaces(
                Filters=[{"Name": key, "Values": [r.id]}])["NetworkInterfaces"]
            holder = ", ".join(f"{e['NetworkInterfaceId']} ({e.get('Description') or e.get('InterfaceType', 'eni')})"
                               for e in enis[:3])
        except Exception:  # noqa: BLE001 - best effort: the message still names r
            holder = ""
    elif r.kind == "ec2 network interface":
        attachment = r.data.get("Attachment") or {}
        holder = f"instance {attachment['InstanceId']}" if attachment.get("InstanceId") else ""
    elif r.kind == "iam policy":
        try:
            ents = scope.client("iam").list_entities_for_policy(PolicyArn=r.id)
            holder = ", ".join([x["RoleName"] for x in ents.get("PolicyRoles", [])]
                               + [x["UserName"] for x in ents.get("PolicyUsers", [])])
        except Exception:  # noqa: BLE001
            holder = ""
    held = f" is held by {holder}" if holder else f" could not be deleted ({code})"
    todo = ("delete or detach that first (it is outside what this teardown covers: not the course's, or "
            "another stage's or run's; 'workshop teardown --yes' with no --run/--stage takes the whole course), "
            "then run the teardown again") if holder else \
        f"{str(exc).splitlines()[0][:200]}; fix that, then run 'workshop teardown --yes' again"
    return Blocker(r, f"{r.label()} in {r.region}{held}: {todo}")


def teardown(run: str | None = None, stage: int | None = None, region_list: Iterable[str] | None = None,
             echo: Callable[[str], None] = print) -> Report:
    """Delete the course's resources (one run's, one stage's) wave by wave, then scan what remains."""
    report = Report()
    scopes = _scopes(run, stage, region_list or regions())
    for wave in WAVES:
        started: list[tuple[Kind, Scope, Resource]] = []
        for kind in wave:
            for scope in _kind_scopes(kind, scopes):
                for r in find(kind, scope, report.skipped):
                    echo(f"deleting {r.label()}" + (f" [{scope.region}]" if scope.region != GLOBAL_REGION else ""))
                    try:
                        kind.delete(scope, r)
                    except Unsupported as exc:
                        report.blocked.append(Blocker(r, f"{r.label()}: {exc}"))
                        continue
                    except ClientError as exc:
                        if _gone_codes(exc):
                            report.deleted.append(r)
                            continue
                        report.blocked.append(_blocker(scope, r, exc))
                        continue
                    started.append((kind, scope, r))
        if started:
            items = [waits.Wait(f"{r.label()} deleted" if k.scanned else f"{r.label()} disabled",
                                (lambda k=k, s=s, r=r: k.gone(s, r)), k.timeout_s, k.typical_s,
                                what_to_do="nothing is lost: run 'workshop teardown --yes' again to resume")
                     for k, s, r in started]
            waits.together(*items)
            report.deleted.extend(r for k, s, r in started if k.scanned)
    report.remaining = scan(run, stage, [s.region for s in scopes])
    return report


def teardown_stage(stage_number: int, run_id: str | None = None) -> Report:
    """Delete what one stage of one run created (tagged with its stage); used by `ws.finish(teardown=True)`."""
    run = run_id or config.run_id()
    report = teardown(run=run, stage=int(stage_number))
    print(f"Stage {stage_number} of run {run!r}: deleted {len(report.deleted)} resource(s).")
    if not report.ok:
        raise WorkshopError(summary_line(report) + f" — see 'workshop teardown --run {run}'")
    return report


# ---------------------------------------------------------------------------------------
# Presenting
# ---------------------------------------------------------------------------------------

def table(resources: list[Resource], empty: str = "(nothing)") -> str:
    """A plain-text table: kind, name, id, region, stage, run."""
    if not resources:
        return empty
    rows = [("KIND", "NAME", "ID", "REGION", "STAGE", "RUN")] + [
        (r.kind, r.name, r.id if r.id != r.name else "", r.region, r.stage or "?", r.run or "?") for r in resources]
    widths = [min(60, max(len(row[i]) for row in rows)) for i in range(6)]
    return "\n".join("  ".join(c[:60].ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)


def summary_line(report: Report) -> str:
    if report.ok:
        return f"teardown complete: {len(report.deleted)} deleted, nothing remains"
    parts = []
    if report.blocked:
        parts.append(f"{len(report.blocked)} could not be deleted ({report.blocked[0].message})")
    if report.remaining:
        parts.append(f"{len(report.remaining)} remain")
    return "teardown incomplete: " + "; ".join(parts)


__all__ = ["Blocker", "KINDS", "Report", "Resource", "Scope", "WAVES", "plan", "record_region", "regions",
           "scan", "summary_line", "table", "teardown", "teardown_stage"]
