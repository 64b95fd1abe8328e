"""CPU per tier while traffic ran, as CloudWatch shows it: `AWS/EC2` (each web instance),
`AWS/RDS` (the primary, the read replicas) and `AWS/ElastiCache` (the cache nodes) CPUUtilization.

    before = tiers.mark(ctx)            # on the local AWS: publish the instances' datapoints now
    ... traffic ...
    tiers.cpu(ctx, before)              # {"web": TierCpu(...), "db-primary": ..., ...}

On the local AWS the web instances publish every 10 s and DB instances and cache nodes every 5 s
(`workshop/localaws/ext`); `mark` and `cpu` ask the data plane to publish the instances' datapoints
at once (`POST /_workshop/dataplane/metrics`), so the web figure covers exactly the run. The DB and
cache figures are the datapoints whose period ended within the run (and up to 5 s after it).
"""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.request
from dataclasses import dataclass

from ..stages import infra, webtier

#: DB instances and cache nodes publish every this many seconds on the local AWS
LOCAL_PERIOD_S = 5.0
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class TierCpu:
    tier: str
    by_member: dict[str, float]  # member (instance, DB instance, cache cluster) -> average CPU %

    @property
    def mean(self) -> float:
        return sum(self.by_member.values()) / len(self.by_member) if self.by_member else 0.0

    @property
    def peak(self) -> float:
        return max(self.by_member.values(), default=0.0)

    def __str__(self) -> str:
        return f"{self.tier} {self.mean:.0f}% (max {self.peak:.0f}% over {len(self.by_member)})"


def _publish_now(ctx) -> None:
    if not ctx.target.is_local:
        return
    from .. import aws

    req = urllib.request.Request(f"{aws.endpoint(ctx.target)}/_workshop/dataplane/metrics", data=b"{}",
                                 method="POST", headers={"Content-Type": "application/json"})
    with _direct.open(req, timeout=5) as r:
        json.loads(r.read() or b"{}")


def mark(ctx) -> dt.datetime:
    """The start of a measurement (the instances' datapoints so far published first, on the local AWS)."""
    _publish_now(ctx)
    return dt.datetime.now(dt.timezone.utc)


def _average(cw, namespace: str, dim: str, value: str, start: dt.datetime, end: dt.datetime) -> float | None:
    points = cw.get_metric_statistics(Namespace=namespace, MetricName="CPUUtilization",
                                      Dimensions=[{"Name": dim, "Value": value}], StartTime=start, EndTime=end,
                                      Period=60, Statistics=["Average"])["Datapoints"]
    return sum(p["Average"] for p in points) / len(points) if points else None


def cpu(ctx, start: dt.datetime, settle_s: float = 2.0) -> dict[str, TierCpu]:
    """Average CPUUtilization per tier member from `start` (`mark`) to now (+ `settle_s` for the DB and
    cache datapoints of the run's last seconds to arrive)."""
    _publish_now(ctx)
    web_end = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)  # the instances' idle datapoints after it: out
    if settle_s > 0:
        time.sleep(settle_s)
    end = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)
    cw = infra.client(ctx, "cloudwatch")
    out: dict[str, dict[str, float]] = {}
    tg = webtier.find_target_group(ctx)
    ids = list(webtier.target_ids(ctx, tg["TargetGroupArn"])) if tg else []
    running = [i for i in webtier.instances(ctx, ids) if i["State"]["Name"] == "running"]
    for i in running:
        v = _average(cw, "AWS/EC2", "InstanceId", i["InstanceId"], start + dt.timedelta(seconds=1), web_end)
        if v is not None:
            out.setdefault("web", {})[i["InstanceId"]] = v
    primary = webtier.find_primary_db(ctx)
    if primary is not None:
        pid = primary["DBInstanceIdentifier"]
        v = _average(cw, "AWS/RDS", "DBInstanceIdentifier", pid, start, end)
        if v is not None:
            out["db-primary"] = {pid: v}
        for r in webtier.replicas_of(ctx, pid):
            v = _average(cw, "AWS/RDS", "DBInstanceIdentifier", r["DBInstanceIdentifier"], start, end)
            if v is not None:
                out.setdefault("db-replicas", {})[r["DBInstanceIdentifier"]] = v
    for c in infra.client(ctx, "elasticache").describe_cache_clusters()["CacheClusters"]:
        if c["CacheClusterId"].startswith(f"sbs-{ctx.run_id}-"):
            v = _average(cw, "AWS/ElastiCache", "CacheClusterId", c["CacheClusterId"], start, end)
            if v is not None:
                out.setdefault("cache", {})[c["CacheClusterId"]] = v
    return {k: TierCpu(k, v) for k, v in out.items()}
