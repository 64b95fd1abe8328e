"""`AWS/EC2 CPUUtilization` for the serving instances, from the CPU time their requests held.

For each instance: the vCPU-seconds of work its requests put on it since the last datapoint, over what its
vCPUs could do in that time (vCPUs x seconds; with the data plane's scale K a request does K requests' work), as a percentage (dimension
`InstanceId`). For each Auto Scaling group: the average of its instances' values (dimension
`AutoScalingGroupName`), which EC2 publishes for instances in a group (Amazon EC2 User Guide,
"List the available CloudWatch metrics for your instances", dimension AutoScalingGroupName).
The datapoints go straight into moto's CloudWatch backend, as AWS's own services publish into
the `AWS/` namespaces (PutMetricData refuses them), and the alarms on them are evaluated at
once (`cloudwatch_alarms.evaluate_all`), so a target-tracking policy reacts to real traffic.
"""

from __future__ import annotations

import time
from collections import defaultdict

NAMESPACE, METRIC = "AWS/EC2", "CPUUtilization"
#: how many times faster than on AWS these metrics, and the alarms on them, run: a minute of
#: CloudWatch is 2/3 s, so a target-tracking policy's AlarmHigh (3 datapoints of a minute) fires ~2 s
#: after the CPU crosses its target and its AlarmLow (15 of them) scales in ~10 s after the load
#: stops: stage 7's whole cycle, out and back in, fits a 20-s demo. (The load balancer's health
#: checks run 30x faster, `_elbv2_probes.TIME_SCALE`: a check's timeout must outlast a busy laptop's hiccup.)
TIME_SCALE = 90


def sample(serving, now: float) -> float:
    """Percent of the instance's CPU slots held since the last sample (0-100); starts a new sample."""
    elapsed = max(now - serving.sampled_at, 1e-6)
    busy = serving.cpu.busy_seconds
    percent = 100.0 * (busy - serving.sampled_busy) / (serving.cpu.slots * elapsed)
    serving.sampled_busy, serving.sampled_at = busy, now
    return round(max(0.0, min(100.0, percent)), 3)


def publish(fleet) -> list[dict]:
    """Put one datapoint per serving instance and per group; what was published (for the wire answer)."""
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.core.utils import utcnow

    from . import cloudwatch_alarms

    now, stamp = time.monotonic(), utcnow()
    by_place: dict[tuple[str, str], list[dict]] = defaultdict(list)
    groups: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for serving in list(fleet.serving.values()):
        account, region, instance_id = serving.key
        value = sample(serving, now)
        by_place[(account, region)].append({"MetricName": METRIC, "Value": value, "Unit": "Percent", "Timestamp": stamp,
                                            "Dimensions": [{"Name": "InstanceId", "Value": instance_id}]})
        group = serving.endpoint.details.get("autoscaling_group")
        if group:
            groups[(account, region, group)].append(value)
    for (account, region, group), values in groups.items():
        by_place[(account, region)].append({
            "MetricName": METRIC, "Value": round(sum(values) / len(values), 3), "Unit": "Percent", "Timestamp": stamp,
            "Dimensions": [{"Name": "AutoScalingGroupName", "Value": group}]})
    published = []
    for (account, region), data in by_place.items():
        backend = cloudwatch_backends[account][region]
        backend.put_metric_data(NAMESPACE, data)
        cloudwatch_alarms.evaluate_all(account, region, backend, only_new_data=True)
        published += [{"dimension": d["Dimensions"][0]["Value"], "value": d["Value"]} for d in data]
    return published
