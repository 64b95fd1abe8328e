"""The workload, as named assumptions: each with a default, a unit, a valid range and a source.

`defaults()` gives them all; `make(overrides)` checks every override and raises a BadInput
that names the assumption and its valid range. "Kit default" marks a figure the kit chose
as a rule of thumb (change it in the notebook or with the widgets); quotas are AWS's
published defaults, taken from `quotas.py` with the page they come from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ..errors import BadInput
from .quotas import QUOTAS
from .quotas import value as _q


@dataclass(frozen=True)
class Assumption:
    name: str
    default: float
    unit: str
    low: float
    high: float
    source: str
    label: str
    low_open: bool = False  # the low end itself is invalid (e.g. a capacity of 0)
    group: str = "workload"


A = Assumption
_ALL: tuple[Assumption, ...] = (
    # --- workload ---------------------------------------------------------------------------
    A("active_share", 0.05, "share of users", 0.0, 1.0,
      "kit default: 1 user in 20 active in the peak minute (consumer web/mobile rule of thumb)",
      "users active at peak", low_open=True),
    A("page_requests_per_min", 10.0, "requests / active user / min", 0.0, 10_000.0,
      "kit default: 2 page views a minute, each page 1 dynamic + 4 static requests",
      "requests per active user per minute"),
    A("static_share", 0.8, "share of requests", 0.0, 1.0,
      "HTTP Archive Web Almanac: most requests a page makes are images, CSS, JS (kit rounds to 80%)",
      "static share of requests"),
    A("events_per_min", 0.5, "events / active user / min", 0.0, 10_000.0,
      "kit default: one analytics event every two minutes per active user (the talk's demo POSTs /prod/logger)",
      "events per active user per minute"),
    A("db_queries_per_request", 5.0, "queries / dynamic request", 0.0, 1_000.0,
      "kit default: a typical page reads a handful of rows", "database queries per dynamic request"),
    A("read_share", 0.9, "share of queries", 0.0, 1.0,
      "kit default: 9 reads per write, a read-heavy web app (why the talk adds read replicas)",
      "read share of queries (read/write ratio)"),
    A("session_queries_per_request", 2.0, "queries / dynamic request", 0.0, 100.0,
      "kit default: read and update the session row, on each dynamic request",
      "session queries per dynamic request"),
    A("db_connection_seconds", 0.2, "s / request", 0.0, 60.0,
      "kit default: a dynamic request holds its database connection ~200 ms (Little's law turns rate into connections)",
      "database connection held per request"),
    # --- offload ---------------------------------------------------------------------------
    A("cache_hit_ratio", 0.9, "share of reads", 0.0, 1.0,
      "kit default: a warm ElastiCache in front of hot rows (slides 12-17)", "cache hit ratio", group="offload"),
    A("cache_mb_per_active_user", 0.02, "MB of cache / active user", 0.0, 1_000.0,
      "kit default: ~20 KB of hot rows and page fragments per active user; "
      "beyond the cache's memory the hit ratio falls",
      "cache working set per active user", group="offload"),
    A("cached_request_cost", 0.2, "share of a dynamic request's CPU", 0.0, 1.0,
      "kit default: a page built from cached data skips most query and render work",
      "web CPU of a cache-served request", group="offload"),
    A("cdn_static_hit_ratio", 0.95, "share of static requests", 0.0, 1.0,
      "kit default: CloudFront serves static objects from its edge; misses go to S3",
      "CloudFront hit ratio, static", group="offload"),
    A("cdn_dynamic_hit_ratio", 0.5, "share of dynamic requests", 0.0, 1.0,
      "kit default: short-TTL caching of dynamic pages at the edge (slide 17)",
      "CloudFront hit ratio, dynamic", group="offload"),
    # --- servers -----------------------------------------------------------------------------
    A("web_requests_per_vcpu", 20.0, "dynamic requests / s / vCPU", 0.0, 100_000.0,
      "kit default: an interpreted web app (PHP, Ruby, Python) at 100% of one vCPU",
      "web: dynamic requests per vCPU per second", low_open=True, group="servers"),
    A("static_request_cost", 0.25, "share of a dynamic request's CPU", 0.0, 1.0,
      "kit default: a static file served by the app's web server", "web CPU of a static request", group="servers"),
    A("event_request_cost", 0.05, "share of a dynamic request's CPU", 0.0, 1.0,
      "kit default: a small POST and one insert", "web CPU of an event POST", group="servers"),
    A("db_reads_per_vcpu", 1_000.0, "queries / s / vCPU", 0.0, 1_000_000.0,
      "kit default: indexed single-row reads on MySQL/PostgreSQL at 100% of one vCPU",
      "database: reads per vCPU per second", low_open=True, group="servers"),
    A("db_writes_per_vcpu", 500.0, "queries / s / vCPU", 0.0, 1_000_000.0,
      "kit default: single-row writes, half the read rate (redo log, replication)",
      "database: writes per vCPU per second", low_open=True, group="servers"),
    A("cache_ops_per_vcpu", 25_000.0, "operations / s / vCPU", 0.0, 10_000_000.0,
      "kit default: a quarter of redis-benchmark's ~100,000 GET/s per core (redis.io benchmarks)",
      "cache: operations per vCPU per second", low_open=True, group="servers"),
    A("knee_utilisation", 0.95, "share of CPU", 0.0, 1.0,
      "kit default: the busiest server's CPU where p95 passes 500 ms (the knee, workshop/traffic/knee.py); "
      "measured on the local AWS's emulated servers at 94-100% (benchmarks/knee.py, docs/performance.md); "
      "a single-vCPU queue (M/G/1) with the model's request mix reaches it near 91%, more vCPUs later",
      "servers: CPU at the knee", low_open=True, group="servers"),
    # --- managed services (AWS default quotas, from quotas.py) ---------------------------------
    A("cloudfront_rps", _q("cloudfront_rps"), "requests / s / distribution", 0.0, 1e9,
      f"AWS CloudFront quota: {QUOTAS['cloudfront_rps'].cite()}",
      "CloudFront requests per second", low_open=True, group="quotas"),
    A("api_gateway_rps", _q("api_gateway_rps"), "requests / s / account-region", 0.0, 1e9,
      f"AWS API Gateway quota: {QUOTAS['api_gateway_rps'].cite()}",
      "API Gateway requests per second", low_open=True, group="quotas"),
    A("lambda_concurrency", _q("lambda_concurrency"), "concurrent executions", 0.0, 1e8,
      f"AWS Lambda quota: {QUOTAS['lambda_concurrency'].cite()}",
      "Lambda concurrency", low_open=True, group="quotas"),
    A("lambda_duration_ms", 50.0, "ms / invocation", 0.0, _q("lambda_timeout_ms"),
      f"kit default: one put_item per invocation; at most Lambda's timeout, {QUOTAS['lambda_timeout_ms'].cite()}",
      "Lambda duration", low_open=True, group="quotas"),
    A("dynamodb_table_capacity", _q("dynamodb_table_wcu"), "capacity units / s / table", 0.0, 1e9,
      f"AWS DynamoDB quota: {QUOTAS['dynamodb_table_wcu'].cite()}",
      "DynamoDB capacity per table", low_open=True, group="quotas"),
    A("firehose_records_per_s", _q("firehose_records"), "records / s / stream", 0.0, 1e9,
      f"AWS Firehose quota: {QUOTAS['firehose_records'].cite()}",
      "Firehose records per second", low_open=True, group="quotas"),
)
del A

BY_NAME: Mapping[str, Assumption] = MappingProxyType({a.name: a for a in _ALL})


def all_assumptions() -> tuple[Assumption, ...]:
    return _ALL


def defaults() -> dict[str, float]:
    return {a.name: a.default for a in _ALL}


def problem(name: str, value) -> str | None:
    """None if `value` is valid for the assumption `name`, else a one-line reason."""
    a = BY_NAME.get(name)
    if a is None:
        return f"unknown assumption {name!r}; known: {', '.join(BY_NAME)}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{name} must be a number ({a.unit}), not {value!r}"
    v = float(value)
    if v != v:
        return f"{name} must be a number ({a.unit}), not NaN"
    if v < a.low or (a.low_open and v == a.low):
        side = "above" if a.low_open else "at least"
        return f"{name} = {value:g} is out of range: it must be {side} {a.low:g} ({a.unit}), up to {a.high:g}"
    if v > a.high:
        return f"{name} = {value:g} is out of range: it must be at most {a.high:g} ({a.unit})"
    return None


def make(overrides: Mapping[str, float] | None = None, base: Mapping[str, float] | None = None) -> dict[str, float]:
    """Defaults (or `base`) with `overrides` applied; a BadInput names the first invalid one and why."""
    values = dict(base) if base is not None else defaults()
    for name, value in (overrides or {}).items():
        reason = problem(name, value)
        if reason:
            raise BadInput(reason)
        values[name] = float(value)
    return values


def table(values: Mapping[str, float] | None = None) -> list[dict]:
    """Rows (name, value, unit, range, source) for the notebook's assumptions table."""
    values = values or defaults()
    rows = []
    for a in _ALL:
        lo = "(" if a.low_open else "["
        rows.append({"name": a.name, "value": values[a.name], "unit": a.unit,
                     "range": f"{lo}{a.low:g}, {a.high:g}]", "source": a.source})
    return rows
