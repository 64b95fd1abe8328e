"""The load balancers' CloudWatch metrics, as an Application Load Balancer publishes them.

ELB User Guide, "CloudWatch metrics for your Application Load Balancer", namespace
`AWS/ApplicationELB`: RequestCount, HTTPCode_ELB_5XX_Count (and _502/_503/_504),
HTTPCode_Target_2XX/3XX/4XX/5XX_Count, TargetResponseTime (seconds, as statistic sets) with the
dimension LoadBalancer=`app/<name>/<id>`; HealthyHostCount and UnHealthyHostCount with
LoadBalancer and TargetGroup=`targetgroup/<name>/<id>`; RequestCountPerTarget (requests sent to
the group over its healthy targets) with TargetGroup, and with TargetGroup and LoadBalancer.
Counts are multiplied by the data plane's `scale` (one local request stands for `scale` at the
talk's scale); host counts are not. Alarms on them are evaluated as the data arrives.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from datetime import datetime, timezone

log = logging.getLogger("workshop.localaws.elbv2")

NAMESPACE = "AWS/ApplicationELB"


class Counts:
    """Request counts of one load balancer since the last flush (touched by the loop, read by the flusher)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.values: dict[str, int] = defaultdict(int)
        self.times: list[float] = []
        self.per_group: dict[str, int] = defaultdict(int)  # requests forwarded, by target group ARN

    def add(self, name: str, n: int = 1):
        with self.lock:
            self.values[name] += n

    def took(self, seconds: float):
        with self.lock:
            self.times.append(seconds)

    def sent(self, group_arn: str):
        with self.lock:
            self.per_group[group_arn] += 1

    def take(self) -> tuple[dict[str, int], list[float], dict[str, int]]:
        with self.lock:
            values, times, per_group = dict(self.values), self.times, dict(self.per_group)
            self.reset()
        return values, times, per_group


def flush(listeners, groups: dict, host_counts, scale_of) -> int:
    """Put each listener's counts since the last flush into moto's CloudWatch; the number of data points put.
    `host_counts(spec, group)` gives (healthy, unhealthy) targets; `scale_of(load_balancer_name)` the scale."""
    from moto.cloudwatch.models import cloudwatch_backends

    from . import cloudwatch_alarms

    now, put = datetime.now(timezone.utc).replace(tzinfo=None), 0  # moto keeps naive UTC
    by_backend: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for listener in listeners:
        spec = listener.spec
        scale = scale_of(spec.name)
        lb_dim = [{"Name": "LoadBalancer", "Value": spec.dimension}]
        values, times, per_group = listener.counts.take()
        data = by_backend[(spec.account, spec.region)]
        for name, n in sorted(values.items()):
            data.append({"MetricName": name, "Dimensions": lb_dim, "Value": n * scale, "Unit": "Count",
                         "Timestamp": now})
        if times:
            data.append({"MetricName": "TargetResponseTime", "Dimensions": lb_dim, "Unit": "Seconds",
                         "Timestamp": now, "StatisticValues": {"SampleCount": len(times) * scale,
                                                               "Sum": sum(times) * scale,
                                                               "Minimum": min(times), "Maximum": max(times)}})
        for arn in spec.group_arns:
            group = groups.get(arn)
            if group is None:
                continue
            healthy, unhealthy = host_counts(spec, group)
            dims = lb_dim + [{"Name": "TargetGroup", "Value": group.dimension}]
            data.append({"MetricName": "HealthyHostCount", "Dimensions": dims, "Value": healthy, "Unit": "Count",
                         "Timestamp": now})
            data.append({"MetricName": "UnHealthyHostCount", "Dimensions": dims, "Value": unhealthy,
                         "Unit": "Count", "Timestamp": now})
            if per_group.get(arn):
                per_target = per_group[arn] * scale / max(healthy, 1)
                for dimensions in (dims, dims[1:]):
                    data.append({"MetricName": "RequestCountPerTarget", "Dimensions": dimensions,
                                 "Value": per_target, "Unit": "Count", "Timestamp": now})
    for (account, region), data in by_backend.items():
        if not data:
            continue
        backend = cloudwatch_backends[account][region]
        backend.put_metric_data(NAMESPACE, data)
        put += len(data)
        try:
            cloudwatch_alarms.evaluate_all(account, region, backend, only_new_data=True)
        except Exception:
            log.exception("alarm evaluation after the load balancers' metrics failed")
    return put
