"""What the load balancers' data plane needs to know, read from moto's ELBv2 and EC2 state.

A snapshot of plain values (`Balancer`, `Group`, `Target`), built in the API's or a worker's
thread and handed to the data plane's loop, which never reads moto's objects itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
class Rule:
    """A listener rule: all its conditions must match (field, values: any of them) for its action to apply."""

    priority: int
    conditions: tuple[tuple[str, tuple[str, ...]], ...]
    action: Action

    def matches(self, method: str, host: str, path: str) -> bool:
        for field, values in self.conditions:
            if field == "path-pattern":
                ok = any(_wildcard(v, path) for v in values)
            elif field == "host-header":
                host = host.rsplit(":", 1)[0].lower()
                ok = any(_wildcard(v.lower(), host) for v in values)
            elif field == "http-request-method":
                ok = method in values
            else:  # http-header, query-string, source-ip: not evaluated here, so the rule never applies
                ok = False
            if not ok:
                return False
        return True


def _wildcard(pattern: str, value: str) -> bool:
    """ELB's condition wildcards: `*` any run of characters, `?` exactly one (case as given)."""
    return re.fullmatch("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), value,
                        re.DOTALL) is not None


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
    rules: tuple[Rule, ...] = ()

    def action_for(self, method: str, host: str, path: str) -> Action:
        """The first rule (by priority) whose conditions match, else the default action."""
        for rule in self.rules:
            if rule.matches(method, host, path):
                return rule.action
        return self.action

    @property
    def group_arns(self) -> tuple[str, ...]:
        """Every target group an action of this load balancer may forward to."""
        arns = [arn for arn, _ in self.action.groups]
        arns += [arn for rule in self.rules for arn, _ in rule.action.groups]
        return tuple(dict.fromkeys(arns))

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


def _values(condition: dict) -> tuple[str, ...]:
    """A condition's values, from `Values` or its `<Field>Config.Values` (as the API accepts both)."""
    found = list(condition.get("Values") or [])
    for key, config in condition.items():
        if key.endswith("Config") and isinstance(config, dict):
            found += list(config.get("Values") or [])
    if found and isinstance(found[0], dict):  # query protocol: {"member": [...]}
        found = [v for item in found for v in (item.get("member") or [])]
    return tuple(str(v) for v in found)


def _rules(listener) -> tuple[Rule, ...]:
    rules = []
    for rule in list(getattr(listener, "_non_default_rules", {}).values()):
        conditions = tuple((c.get("Field", ""), _values(c)) for c in rule.conditions or [])
        rules.append(Rule(int(rule.priority), conditions, _action(rule.actions)))
    return tuple(sorted(rules, key=lambda r: r.priority))


def _http_listener(lb):
    http = [li for li in list(lb.listeners.values()) if (li.protocol or "").upper() == "HTTP"]
    if not http:
        return None
    return next((li for li in http if int(li.port) == 80), min(http, key=lambda li: int(li.port)))


def instances_of(ec2) -> dict:
    """id -> instance of one EC2 backend, read once. moto's `get_instance_by_id` copies every reservation
    on each call: per target, on every reconcile, that grew with every instance ever launched (terminated
    ones stay listed) until a long-lived local AWS spent its time there and health checks fell behind."""
    return {i.id: i for r in list(ec2.reservations.values()) for i in list(r.instances)}


def _group(tg, instances: dict) -> Group:
    targets = []
    for target_id in list(tg.targets):
        instance = instances.get(target_id) if target_id.startswith("i-") else None
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
        instances = None
        for lb in lbs:
            if lb.type != "application" or lb.state != "active":
                continue
            listener = _http_listener(lb)
            if listener is None:
                continue
            azs = tuple(sorted({s.availability_zone for s in lb.subnets if getattr(s, "availability_zone", None)}))
            idle = int(lb.attrs.get("idle_timeout.timeout_seconds") or DEFAULT_IDLE_TIMEOUT_S)
            balancer = Balancer(lb.arn, lb.name, lb.dns_name, account, region, azs, int(listener.port),
                                _action(listener.default_actions), idle, _rules(listener))
            for arn in balancer.group_arns:
                tg = backend.target_groups.get(arn)
                if tg is not None and arn not in groups:
                    instances = instances_of(ec2_backends[account][region]) if instances is None else instances
                    groups[arn] = _group(tg, instances)
            balancers[lb.arn] = balancer
    return balancers, groups
