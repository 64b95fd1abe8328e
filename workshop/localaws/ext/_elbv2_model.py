"""What the load balancers' data plane needs to know, read from moto's ELBv2 and EC2 state.

A snapshot of plain values (`Balancer`, `Group`, `Target`), built in the API's or a worker's
thread and handed to the data plane's loop, which never reads moto's objects itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger("workshop.localaws.elbv2")

#: ALB's default idle timeout (ELB User Guide, "Connection idle timeout"): 60 s
DEFAULT_IDLE_TIMEOUT_S = 60


@dataclass(frozen=True)
class Target:
    id: str
    state: str  # the instance's state (running, stopped, ...); "running" for a non-instance id
    az: str
    private_ip: str


@dataclass(frozen=True)
class Group:
    arn: str
    path: str
    interval_s: int
    timeout_s: int
    healthy_threshold: int
    unhealthy_threshold: int
    matcher: str
    targets: tuple[Target, ...]

    @property
    def dimension(self) -> str:
        """CloudWatch's TargetGroup dimension: `targetgroup/<name>/<id>`."""
        return self.arn.split(":")[-1]


@dataclass(frozen=True)
class Action:
    type: str  # forward | fixed-response | other
    groups: tuple[tuple[str, int], ...] = ()  # (target group ARN, weight)
    status: int = 200
    content_type: str = "text/plain"
    body: str = ""


@dataclass(frozen=True)
class Balancer:
    arn: str
    name: str
    dns_name: str
    account: str
    region: str
    azs: tuple[str, ...]
    listener_port: int
    action: Action
    idle_timeout_s: int

    @property
    def dimension(self) -> str:
        """CloudWatch's LoadBalancer dimension: `app/<name>/<id>`."""
        return self.arn.split(":loadbalancer/", 1)[-1]


def _action(actions) -> Action:
    first = next(iter(sorted(actions or [], key=lambda a: int(a.data.get("Order") or 0))), None)
    if first is None:
        return Action("none")
    data = first.data
    if first.type == "forward":
        groups = tuple((g["TargetGroupArn"], int(g.get("Weight", 1) or 0))
                       for g in (data.get("ForwardConfig") or {}).get("TargetGroups", []) or [])
        if not groups and data.get("TargetGroupArn"):
            groups = ((data["TargetGroupArn"], 1),)
        return Action("forward", groups)
    if first.type == "fixed-response":
        fixed = data.get("FixedResponseConfig") or {}
        return Action("fixed-response", status=int(fixed.get("StatusCode", 200)),
                      content_type=fixed.get("ContentType") or "text/plain", body=fixed.get("MessageBody") or "")
    return Action(str(first.type))


def _http_listener(lb):
    http = [li for li in list(lb.listeners.values()) if (li.protocol or "").upper() == "HTTP"]
    if not http:
        return None
    return next((li for li in http if int(li.port) == 80), min(http, key=lambda li: int(li.port)))


def _group(tg, ec2) -> Group:
    targets = []
    for target_id in list(tg.targets):
        instance = ec2.get_instance_by_id(target_id) if target_id.startswith("i-") else None
        if instance is not None:
            targets.append(Target(target_id, instance.state, instance.availability_zone or "",
                                  instance.private_ip or ""))
        elif not target_id.startswith("i-"):
            targets.append(Target(target_id, "running", "", target_id))
    matcher = (getattr(tg, "matcher", None) or {}).get("HttpCode", "200")
    return Group(tg.arn, tg.health_check_path or "/", int(tg.health_check_interval_seconds or 30),
                 int(tg.health_check_timeout_seconds or 5), int(tg.healthy_threshold_count or 5),
                 int(tg.unhealthy_threshold_count or 2), matcher, tuple(targets))


def read() -> tuple[dict[str, Balancer], dict[str, Group]]:
    """Every active Application Load Balancer with an HTTP listener, and the target groups they use."""
    from moto.ec2.models import ec2_backends
    from moto.elbv2.models import elbv2_backends

    balancers: dict[str, Balancer] = {}
    groups: dict[str, Group] = {}
    for account, region, backend in list(elbv2_backends.iter_backends()):
        lbs = list(backend.load_balancers.values())
        if not lbs:
            continue
        ec2 = ec2_backends[account][region]
        for lb in lbs:
            if lb.type != "application" or lb.state != "active":
                continue
            listener = _http_listener(lb)
            if listener is None:
                continue
            action = _action(listener.default_actions)
            for arn, _ in action.groups:
                tg = backend.target_groups.get(arn)
                if tg is not None and arn not in groups:
                    groups[arn] = _group(tg, ec2)
            azs = tuple(sorted({s.availability_zone for s in lb.subnets if getattr(s, "availability_zone", None)}))
            idle = int(lb.attrs.get("idle_timeout.timeout_seconds") or DEFAULT_IDLE_TIMEOUT_S)
            balancers[lb.arn] = Balancer(lb.arn, lb.name, lb.dns_name, account, region, azs, int(listener.port),
                                         action, idle)
    return balancers, groups
