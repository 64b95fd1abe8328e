"""Publish what the data plane measured as CloudWatch metrics, as AWS services do for their resources.

RDS and ElastiCache send their metrics to CloudWatch by themselves (RDS User Guide, "Amazon
CloudWatch metrics for Amazon RDS"; ElastiCache User Guide, "Host-level metrics" and "Metrics
for Redis OSS"). Here the extensions that emulate them hand their figures to `publish`, which
puts them into moto's CloudWatch backend of the resource's account and region (so
`get_metric_statistics`, `get_metric_data` and `list_metrics` answer them) and evaluates the
alarms on those metrics at once, as a `PutMetricData` request would (`ext/cloudwatch_alarms.py`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

log = logging.getLogger("workshop.localaws.metrics")


def datum(name: str, value: float, unit: str, dimensions: dict[str, str], when: datetime | None = None) -> dict:
    """One datapoint as moto's `put_metric_data` takes it (at `when`, else now; moto keeps naive UTC)."""
    out = {"MetricName": name, "Value": float(value), "Unit": unit,
           "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()]}
    if when is not None:
        out["Timestamp"] = when.astimezone(timezone.utc).replace(tzinfo=None) if when.tzinfo else when
    return out


def publish(account_id: str, region: str, namespace: str, data: list[dict]) -> None:
    """Put `data` (see `datum`) under `namespace` in the account's and region's CloudWatch, then
    evaluate the alarms on what just arrived."""
    if not data:
        return
    from moto.cloudwatch.models import cloudwatch_backends

    backend = cloudwatch_backends[account_id][region]
    backend.put_metric_data(namespace, data)
    try:
        from .ext import cloudwatch_alarms

        cloudwatch_alarms.evaluate_all(account_id, region, backend, only_new_data=True)
    except Exception:  # an alarm's action failing must not stop the metrics
        log.exception("evaluating alarms after %s metrics failed", namespace)
