"""The web fleet's CPU as CloudWatch has it (`AWS/EC2 CPUUtilization`), for stages 6 and 7.

EC2 publishes `CPUUtilization` per instance (dimension `InstanceId`) and, for instances in an
Auto Scaling group, per group (dimension `AutoScalingGroupName`): Amazon EC2 User Guide, "List
the available CloudWatch metrics for your instances". AWS publishes every 60 s (detailed
monitoring) or 300 s (basic); the local AWS every 2/3 s (a minute at its 90x time scale), from the
CPU time requests really held (docs/local-web.md), and `publish_now` makes it publish at once, so a measurement's window starts
and ends on a datapoint.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime, timezone

from .. import aws
from . import infra

NAMESPACE, METRIC = "AWS/EC2", "CPUUtilization"
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def publish_now(ctx) -> bool:
    """On the local target, publish every serving instance's CPU datapoint now (False on AWS: it publishes on its own)."""
    if not ctx.target.is_local:
        return False
    req = urllib.request.Request(f"{aws.endpoint(ctx.target)}/_workshop/dataplane/metrics", data=b"{}", method="POST",
                                 headers={"Content-Type": "application/json"})
    with _direct.open(req, timeout=5) as r:
        json.loads(r.read() or b"{}")
    return True


class restored_scale:
    """`with restored_scale(ctx):` puts the local data plane's scale back as it was when the block ends
    (a traffic run sets it; the next notebook on the same local AWS must not inherit it)."""

    def __init__(self, ctx):
        self.ctx, self.scale = ctx, None

    def __enter__(self):
        if self.ctx.target.is_local:
            from ..traffic.runner import get_scale

            self.scale = get_scale(aws.endpoint(self.ctx.target), self.ctx.run_id)
        return self

    def __exit__(self, *exc) -> None:
        if self.scale is not None:
            from ..traffic.runner import set_scale

            set_scale(aws.endpoint(self.ctx.target), self.scale, self.ctx.run_id)


def now() -> datetime:
    return datetime.now(timezone.utc)


def series(ctx, dimension: tuple[str, str], start: datetime, end: datetime) -> list[tuple[datetime, float]]:
    """(time, value) of `CPUUtilization` for one dimension (name, value) between start and end, oldest first."""
    cloudwatch = infra.client(ctx, "cloudwatch")
    # EC2's metrics have 1-minute resolution on AWS; locally a 1 s period averages the one or two datapoints in it
    period = 1 if ctx.target.is_local else 60
    found = []
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[{"Id": "cpu", "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": NAMESPACE, "MetricName": METRIC,
                       "Dimensions": [{"Name": dimension[0], "Value": dimension[1]}]},
            "Period": period, "Stat": "Average"}}],
        StartTime=start, EndTime=end, ScanBy="TimestampAscending")
    for result in answer["MetricDataResults"]:
        found += list(zip(result["Timestamps"], result["Values"]))
    return sorted(found)


def average(ctx, dimension: tuple[str, str], start: datetime, end: datetime) -> float | None:
    """The mean of the datapoints between start and end (None: none yet)."""
    points = series(ctx, dimension, start, end)
    return round(sum(v for _, v in points) / len(points), 1) if points else None


def fleet_average(ctx, instance_ids: list[str], start: datetime, end: datetime) -> float | None:
    """The web tier's CPU: the mean over instances of each one's mean between start and end."""
    values = [v for v in (average(ctx, ("InstanceId", i), start, end) for i in instance_ids) if v is not None]
    return round(sum(values) / len(values), 1) if values else None
