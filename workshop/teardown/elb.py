"""Load balancing kinds: Application/Network load balancers, their target groups, classic ELBs."""

from __future__ import annotations

from .kind import FRONT_DOORS, STANDING, Kind
from .shapes import gone_when_unlisted, paginate


def _tags_by_key(describe_tags, ids: list[str], param: str, key: str) -> dict[str, list]:
    """Each resource's tags, asked 20 at a time (the most describe_tags takes)."""
    out: dict[str, list] = {}
    for i in range(0, len(ids), 20):
        for d in describe_tags(**{param: ids[i:i + 20]})["TagDescriptions"]:
            out[d[key]] = d.get("Tags", [])
    return out


def _find_v2(op: str, key: str, arn_key: str, name_key: str):
    def find(scope):
        c = scope.client("elbv2")
        items = list(paginate(c, op, key))
        tag_map = _tags_by_key(c.describe_tags, [i[arn_key] for i in items], "ResourceArns", "ResourceArn")
        for i in items:
            r = scope.owned(tag_map.get(i[arn_key]), i[name_key], i[arn_key],
                            state=(i.get("State") or {}).get("Code", ""), data=i)
            if r:
                yield r
    return find


def _find_classic(scope):
    c = scope.client("elb")
    items = list(paginate(c, "describe_load_balancers", "LoadBalancerDescriptions"))
    tag_map = _tags_by_key(c.describe_tags, [i["LoadBalancerName"] for i in items], "LoadBalancerNames",
                           "LoadBalancerName")
    for i in items:
        r = scope.owned(tag_map.get(i["LoadBalancerName"]), i["LoadBalancerName"], i["LoadBalancerName"], data=i)
        if r:
            yield r


KINDS = [
    Kind("load balancer", "elbv2", FRONT_DOORS,
         _find_v2("describe_load_balancers", "LoadBalancers", "LoadBalancerArn", "LoadBalancerName"),
         lambda s, r: s.client("elbv2").delete_load_balancer(LoadBalancerArn=r.id),
         gone_when_unlisted("elbv2", "describe_load_balancers", "LoadBalancerArns", "LoadBalancers", as_list=True,
                            state=lambda lb: (lb.get("State") or {}).get("Code", "")),
         typical_s=30, arn_service="elasticloadbalancing"),
    Kind("classic load balancer", "elb", FRONT_DOORS, _find_classic,
         lambda s, r: s.client("elb").delete_load_balancer(LoadBalancerName=r.id),
         gone_when_unlisted("elb", "describe_load_balancers", "LoadBalancerNames", "LoadBalancerDescriptions",
                            as_list=True),
         typical_s=30, arn_service="elasticloadbalancing"),
    Kind("target group", "elbv2", STANDING,
         _find_v2("describe_target_groups", "TargetGroups", "TargetGroupArn", "TargetGroupName"),
         lambda s, r: s.client("elbv2").delete_target_group(TargetGroupArn=r.id),
         gone_when_unlisted("elbv2", "describe_target_groups", "TargetGroupArns", "TargetGroups", as_list=True),
         arn_service="elasticloadbalancing"),
]
